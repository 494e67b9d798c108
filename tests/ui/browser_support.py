"""What the inspector's browser test needs around the page: a `tykhook listen --ui` of its own,
`tykhook send`, plain HTTP requests, and a headless Chromium. Every process started here is
killed when the test ends, however it ends."""

import atexit
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SKIP = 77
SYSTEM_PYTHON = "/usr/bin/python3"
CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
CHROMEDRIVER = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
INSTALL_HINT = "install chromium, chromium-driver and python3-selenium (make deps)"


def unavailable(why):
    """Skips the test (77), or fails it (1) where CI is set: there the browser must be present."""
    ci = bool(os.environ.get("CI"))
    print(f"inspector_browser: {why}; {INSTALL_HINT}" + ("" if ci else " (skipped)"),
          file=sys.stderr)
    sys.exit(1 if ci else SKIP)


def ensure_selenium(script):
    """Runs `script` again under the system Python when this one lacks Selenium (the Debian
    package installs it there only); gives up as `unavailable` when neither has it."""
    if importlib.util.find_spec("selenium") is not None:
        return
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("TYKHOOK_REEXECUTED"):
        os.environ["TYKHOOK_REEXECUTED"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, script, *sys.argv[1:]])
    unavailable("the Python module selenium is missing")


def first_program(paths):
    return next((p for p in paths if os.access(p, os.X_OK)), None)


_processes = []


def _kill_all():
    for process in _processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


atexit.register(_kill_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def spawn(args, **kwargs):
    """Starts `args` in a process group of its own, killed at exit."""
    process = subprocess.Popen(args, start_new_session=True, **kwargs)
    _processes.append(process)
    return process


def wait_for(what, condition, timeout=60.0):
    """Polls `condition` until it returns a true value, which it returns; fails with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def refused_port():
    """A loopback port bound but not listening: a connection to it is refused for as long as
    the returned socket is open, and no other program can take the port meanwhile."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


class Listener:
    """A `tykhook listen --ui` on a free loopback port, its token in a file, an in-memory store,
    and a target that refuses every connection after one attempt: each ok delivery goes dead."""

    def __init__(self, tykhook, workdir, secret, lifetime=170):
        self.token = secrets.token_urlsafe(24)
        token_file = os.path.join(workdir, "ui-token")
        with open(token_file, "w", encoding="ascii") as out:
            out.write(self.token + "\n")
        self.refusing, down = refused_port()
        self.target = f"http://127.0.0.1:{down}/hook"
        env = dict(os.environ, PORTAL_WEBHOOKS_SECRET=secret)
        self.lines = []
        self.changed = threading.Condition()
        self.process = spawn(
            ["timeout", "-k", "2", str(lifetime), tykhook, "listen", "--port", "0",
             "--store", "memory:", "--ui", "--ui-token-file", token_file,
             "--forward-to", self.target, "--max-attempts", "1", "--retry-base", "100ms"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        first = wait_for("listen's first line", lambda: self.line_matching(r"listening on "), 60)
        self.port = int(re.search(r"http://127\.0\.0\.1:(\d+)", first).group(1))
        self.origin = f"http://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))

    def line_matching(self, pattern):
        """The first line of listen's standard error that matches `pattern`, or None."""
        with self.changed:
            return next((line for line in self.lines if re.search(pattern, line)), None)

    def log(self):
        with self.changed:
            return "\n".join(self.lines)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.refusing.close()


def send(tykhook, to, secret, *args):
    """Runs `tykhook send --to TO ARGS` signed with `secret`; returns the finished process."""
    env = dict(os.environ, PORTAL_WEBHOOKS_SECRET=secret)
    return subprocess.run(["timeout", "-k", "2", "60", tykhook, "send", "--to", to, *args],
                          env=env, capture_output=True, text=True, check=False)


def http(method, url, headers=None):
    """(status, body) of a request; an HTTP error status is an answer too."""
    request = urllib.request.Request(url, method=method, headers=headers or {},
                                     data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_without_redirect(url):
    """The status of GET `url`, a redirect not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def chromium(download_dir):
    """A headless Chromium at 1280x900 that keeps its console log; `unavailable` without one."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    browser = first_program(CHROMIUM)
    driver_program = first_program(CHROMEDRIVER)
    if not browser or not driver_program:
        unavailable("Chromium or its driver is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                     "--force-color-profile=srgb", "--lang=en-US"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                              "download.prompt_for_download": False})
    service = Service(driver_program, log_path=os.devnull)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as failure:
        message = str(failure).splitlines()[0] if str(failure) else repr(failure)
        raise AssertionError(f"Chromium did not start: {message}") from failure
    atexit.register(_quit, driver)
    driver.set_page_load_timeout(60)
    return driver


def _quit(driver):
    try:
        driver.quit()
    except Exception:  # the browser may be gone already; the process group is killed anyway
        pass


def temporary_directory():
    path = tempfile.mkdtemp(prefix="tykhook-ui-")
    atexit.register(shutil.rmtree, path, True)
    return path
