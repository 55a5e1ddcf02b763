"""The corpus sources: pinned packages of human-made art, each labelled with one style.

Labels were decided by looking at contact sheets of every source (`stylecat dataset sheets`),
a source at a time; sources (or sub-folders, or name variants) that fit no class cleanly were
left out: logos and brand marks, monochrome filled glyphs, pixel art, flags, gradient "glass"
avatars, emoji sets with soft half-shading (Noto v1, EmojiOne v1), icon themes that are only
half skeuomorphic (Faenza, elementary), mixed clip-art collections, DiceBear's Open Peeps (flat
fills inside inked outlines: as much flat as hand-drawn), and MATE's icon theme, a fork of a
reserved family.

Several sources per class, from different artists, so that leave-source-out evaluation is
meaningful and no class is one family of icons.
"""

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["iconify", "files", "dicebear", "sketch", "povray"]

RESERVED = (
    "fluent-emoji",
    "fluentui-emoji",
    "twemoji",
    "openmoji",
    "flat-color-icons",
    "fxemoji",
    "streamline-freehand",
    "doodle-icons",
    "croodles",
    "tabler",
    "arcticons",
    "oxygen-icon-theme",
    "gnome-icon-theme",
)
"""Art families reserved for independent evaluation (the real-world model issue): never training,
validation or tuning data, in any packaging. A source whose package or art names one is refused.
(`gnome-icon-theme` is Debian's GNOME 2 theme itself, not the separately drawn themes packaged
as `gnome-icon-theme-<name>`.)"""


@dataclass(frozen=True)
class Source:
    name: str
    """Short id; the corpus files are named `<name>--<n>-<original>.<ext>`."""
    style: str
    kind: Kind
    package: str
    """npm or Debian package holding the art (for `povray`, the renderer's package)."""
    version: str
    licence: str
    credit: str = ""
    """Attribution the licence requires (CC BY), or a courtesy credit."""
    paths: tuple[str, ...] = ()
    """`files`: globs inside the package tree. `iconify`/`sketch`: icon-name suffixes to skip (a
    leading `+` keeps only names with that suffix)."""
    bases: tuple[tuple[str, str], ...] = ()
    """`sketch`: the iconify line sets (package, version) whose drawings are re-drawn by hand."""
    tools: dict[str, str] = field(default_factory=dict)
    """npm tools the renderer needs (name -> version)."""

    @property
    def reserved(self) -> bool:
        names = [self.package, self.name, *(base for base, _ in self.bases)]
        return any(_is_reserved(name) for name in names)


def _is_reserved(name: str) -> bool:
    lowered = name.lower()
    return "gnome-icon-theme" in lowered.replace("@", "/").split("/") or any(
        family in lowered for family in RESERVED if family != "gnome-icon-theme"
    )


DICEBEAR = "9.4.3"
ROUGH = {"roughjs": "4.6.6"}
PEN = {"perfect-freehand": "1.2.3", "path-data-parser": "0.1.0"}
DEB_TANGO = "usr/share/icons/Tango/scalable"
CC_BY = "CC-BY-4.0"

SOURCES: tuple[Source, ...] = (
    # --- 3d: skeuomorphic desktop icon themes (gradients, highlights, cast shadows) and own renders
    Source(
        "tango",
        "3d",
        "files",
        "tango-icon-theme",
        "0.8.90-11",
        "public domain",
        "Tango Desktop Project",
        paths=(f"{DEB_TANGO}/[a-d]*/*.svg", f"{DEB_TANGO}/[f-z]*/*.svg"),
    ),
    Source(
        "gnome-colors",
        "3d",
        "files",
        "gnome-colors-common",
        "5.5.1-2.1",
        "GPL-2+",
        "gnome-colors by Victor Castillejo",
        paths=("usr/share/icons/gnome-colors-common/scalable/*/*.svg",),
    ),
    Source(
        "nuovo",
        "3d",
        "files",
        "gnome-icon-theme-nuovo",
        "0.5-4.2",
        "GPL-2",
        "Nuovo icon theme",
        paths=("usr/share/icons/Nuovo/scalable/**/*.svg",),
    ),
    Source(
        "yasis",
        "3d",
        "files",
        "gnome-icon-theme-yasis",
        "0.4.2-1.2",
        "GPL",
        "Yasis icon theme",
        paths=("usr/share/icons/yasis/scalable/**/*.svg",),
    ),
    Source(
        "nuovext2",
        "3d",
        "files",
        "lxde-icon-theme",
        "0.5.1-2.1",
        "GPL-3+ / LGPL-3+",
        "nuoveXT2 icon theme (LXDE)",
        paths=("usr/share/icons/nuoveXT2/128x128/*/*.png",),
    ),
    Source(
        "povray",
        "3d",
        "povray",
        "povray",
        "1:3.7.0.10-2+b2",
        "AGPL-3 renderer; scenes are stylecat's own",
        "rendered with POV-Ray",
    ),
    # --- flat: colour emoji, flat app tiles, flat avatar illustrations
    Source("noto", "flat", "iconify", "@iconify-json/noto", "1.2.9", "Apache-2.0", "Noto Emoji by Google"),
    Source("emojione", "flat", "iconify", "@iconify-json/emojione", "1.2.3", CC_BY, "Emoji One (colored) by Emoji One"),
    Source(
        "streamline-emojis",
        "flat",
        "iconify",
        "@iconify-json/streamline-emojis",
        "1.2.4",
        CC_BY,
        "Streamline Emojis by Streamline",
    ),
    Source(
        "moka",
        "flat",
        "files",
        "moka-icon-theme",
        "5.5.0-2",
        "CC-BY-SA-4.0",
        "Moka icon theme by Sam Hewitt",
        paths=("usr/share/icons/Moka/256x256/*/*.png",),
    ),
    Source(
        "micah", "flat", "dicebear", "@dicebear/micah", DICEBEAR, CC_BY, "Avatar Illustration System by Micah Lanier"
    ),
    Source("big-ears", "flat", "dicebear", "@dicebear/big-ears", DICEBEAR, CC_BY, "Face Generator by The Visual Team"),
    Source("personas", "flat", "dicebear", "@dicebear/personas", DICEBEAR, CC_BY, "Personas by Draftbit"),
    Source("fun-emoji", "flat", "dicebear", "@dicebear/fun-emoji", DICEBEAR, CC_BY, "Fun Emoji Set by Davis Uche"),
    # --- hand_drawn: ink doodles by people, and line icons re-drawn with hand-drawing renderers
    Source("notionists", "hand_drawn", "dicebear", "@dicebear/notionists", DICEBEAR, "CC0-1.0", "Notionists by Zoish"),
    Source("lorelei", "hand_drawn", "dicebear", "@dicebear/lorelei", DICEBEAR, "CC0-1.0", "Lorelei by Lisa Wischofsky"),
    Source(
        "rough",
        "hand_drawn",
        "sketch",
        "roughjs",
        ROUGH["roughjs"],
        "MIT renderer; drawings MIT / MPL-2.0",
        "sketched with rough.js from Feather and Circum icons",
        bases=(("@iconify-json/feather", "1.2.1"), ("@iconify-json/circum", "1.2.2")),
        tools=ROUGH,
    ),
    Source(
        "pen",
        "hand_drawn",
        "sketch",
        "perfect-freehand",
        PEN["perfect-freehand"],
        "MIT renderer; drawings MIT",
        "drawn with perfect-freehand from Heroicons and Myna UI icons",
        paths=("-solid",),
        bases=(("@iconify-json/heroicons-outline", "1.2.1"), ("@iconify-json/mynaui", "1.2.19")),
        tools=PEN,
    ),
    # --- line_art: outline icon sets with even strokes
    Source("lucide", "line_art", "iconify", "@iconify-json/lucide", "1.2.137", "ISC", "Lucide contributors"),
    Source(
        "iconoir",
        "line_art",
        "iconify",
        "@iconify-json/iconoir",
        "1.2.11",
        "MIT",
        "Iconoir by Luca Burgio",
        paths=("-solid",),
    ),
    Source(
        "phosphor",
        "line_art",
        "iconify",
        "@iconify-json/ph",
        "1.2.2",
        "MIT",
        "Phosphor Icons",
        paths=("-fill", "-duotone"),
    ),
    Source("hugeicons", "line_art", "iconify", "@iconify-json/hugeicons", "1.2.35", "MIT", "Hugeicons"),
    Source(
        "solar",
        "line_art",
        "iconify",
        "@iconify-json/solar",
        "1.2.13",
        CC_BY,
        "Solar by 480 Design",
        paths=("+-linear",),
    ),
    Source(
        "mdi-light",
        "line_art",
        "iconify",
        "@iconify-json/mdi-light",
        "1.2.2",
        "OFL-1.1",
        "Material Design Light by Pictogrammers",
    ),
)


def by_name(names: list[str] | None = None) -> list[Source]:
    """The sources named (all when None); unknown names are an error."""
    if not names:
        return list(SOURCES)
    known = {source.name: source for source in SOURCES}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {sorted(known)}")
    return [known[name] for name in names]
