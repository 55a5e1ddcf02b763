"""The ground floor every other package stands on: settings, the style labels, the image formats
and the queue names. It imports nothing of the project."""
