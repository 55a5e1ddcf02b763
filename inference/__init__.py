"""SageMaker-compatible model server (/ping, /invocations) and its container entrypoint."""
