"""A real S3-compatible object store: S3Proxy (Maven Central, org.gaul:s3proxy) on its filesystem
backend, in a JVM. It speaks the S3 REST API with AWS signatures, so boto3 talks to it as to S3."""

import shutil
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from stylecat import processes
from stylecat.stack.base import Service, StackError, run, wait_until

VERSION = "2.6.0"
ARTIFACT = f"org.gaul:s3proxy:{VERSION}:jar:jar-with-dependencies"
URL = "http://127.0.0.1:9310"
"""Where the local stack's object store answers, unless STYLECAT_S3_ENDPOINT_URL says otherwise."""
IDENTITY = "stylecat"
CREDENTIAL = "stylecat-local-s3-secret"
"""The local store's access key pair (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): loopback only."""


class S3Proxy(Service):
    name = "s3"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.url = self.settings.s3_endpoint_url or URL
        parts = urlsplit(self.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 9310
        self.pid_file = self.home / "s3proxy.pid"
        self.log = self.home / "s3proxy.log"

    def reachable(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any S3 answer (403 to an anonymous request) means it is up
        except (urllib.error.URLError, OSError):
            return False

    def describe(self) -> str:
        return f"S3Proxy {VERSION} at {self.url}"

    def _jar(self) -> str:
        """The self-contained jar through Maven (cached in ~/.m2), copied into the stack folder once."""
        jar = self.home / f"s3proxy-{VERSION}.jar"
        if not jar.exists():
            if not shutil.which("mvn"):
                raise StackError("mvn not found: install Maven (`apt-get install maven`)")
            run(["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={self.home}"])
            (self.home / f"s3proxy-{VERSION}-jar-with-dependencies.jar").rename(jar)
        return str(jar)

    def _start(self) -> None:
        java = shutil.which("java")
        if not java:
            raise StackError("java not found: install a JDK (`apt-get install default-jdk-headless`)")
        jar = self._jar()
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        properties = self.home / "s3proxy.conf"
        properties.write_text(
            f"s3proxy.endpoint=http://{self.host}:{self.port}\n"
            "s3proxy.authorization=aws-v2-or-v4\n"
            f"s3proxy.identity={IDENTITY}\n"
            f"s3proxy.credential={CREDENTIAL}\n"
            "jclouds.provider=filesystem\n"
            f"jclouds.filesystem.basedir={data}\n"
        )
        cmd = [java, "-Xmx256m", "-XX:-UsePerfData", "-jar", jar, "--properties", str(properties)]
        process = processes.start(cmd, self.pid_file, self.log)
        if process is None:
            raise StackError(f"an S3Proxy started earlier ({self.pid_file}) runs but does not answer; stop it first")

        def answers() -> bool:
            if process.poll() is not None:
                raise StackError(f"S3Proxy exited with {process.returncode}; see {self.log}")
            return self.reachable()

        wait_until(answers, "S3Proxy", 60, self.log)

    def _stop(self) -> None:
        processes.stop(self.pid_file)
