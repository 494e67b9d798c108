#!/usr/bin/env python3
"""The inspector page (`listen --ui`, issue 19) in a real browser: headless Chromium against a
real `tykhook listen --ui`. Without the token nothing is shown; with it, deliveries appear as
`tykhook send` makes them, without a reload; the filters ask for one verdict or one event; a
schema error is marked in the body and personal data is masked until clicked; a dead delivery is
sent again and its new attempt shows; a POST from another origin is refused and changes nothing.

Usage: inspector_browser_test.py BUILD_DIR TYKHOOK
Exit 0 passed, 1 failed, 77 skipped (no Chromium or Selenium, and CI not set)."""

import base64
import datetime
import http.server
import json
import os
import subprocess
import sys
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser_support as support  # noqa: E402

support.ensure_selenium(os.path.abspath(__file__))

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SECRET = "inspector-browser-secret-7d1f0c2a"
TIMEOUT = 60  # seconds for each wait: the CI machine is slow, and runs sanitizer builds too


def step(text):
    print(f"inspector_browser: {text}", flush=True)


class Page:
    """The inspector page in the browser, and what the test reads of it."""

    def __init__(self, driver, listener):
        self.driver = driver
        self.listener = listener
        # The page redraws parts of itself: an element read a moment ago may be gone.
        self.wait = WebDriverWait(driver, TIMEOUT, poll_frequency=0.1,
                                  ignored_exceptions=[StaleElementReferenceException])

    def until(self, what, condition):
        try:
            return self.wait.until(lambda _: condition())
        except Exception as failure:
            raise AssertionError(f"timed out waiting for {what}") from failure

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def rows(self):
        """[(id, verdict, event, queue state, attempts)] of the list, top to bottom."""
        return self.driver.execute_script("""
            return [...document.querySelectorAll('#rows tr[data-id]')].map((r) => [
              Number(r.dataset.id), r.dataset.verdict, r.querySelector('.event').textContent,
              r.querySelector('.queue-state').textContent,
              r.querySelector('.attempts').textContent]);""")

    def open(self, delivery_id):
        self.driver.find_element(By.CSS_SELECTOR, f'#rows tr[data-id="{delivery_id}"]').click()
        self.until(f"delivery {delivery_id} in the view",
                   lambda: self.text("#detail .detail-id") == f"#{delivery_id}")

    def text(self, css):
        """The text of the first element `css` finds, as shown; None without one."""
        found = self.find(css)
        return found[0].text if found else None

    def history(self):
        """The cells of the queue history's rows in the delivery's view."""
        return self.driver.execute_script("""
            return [...document.querySelectorAll('#detail .history tr.attempt')].map(
              (r) => [...r.cells].map((c) => c.textContent));""")


def api(listener, path):
    status, body = support.http("GET", listener.origin + path,
                                {"Authorization": f"Bearer {listener.token}"})
    assert status == 200, f"GET {path}: {status} {body}"
    return json.loads(body)


def bad_body(path):
    """A UserRegistered signed with the right secret whose Message breaks its schema."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    body = {"Event": "UserRegistered",
            "Message": {"ID": "twenty-nine", "Email": "ada@example.com", "First": "Ada",
                        "Last": "Lovelace", "OrgID": 1, "Provider": "password",
                        "Status": "active", "CreatedAt": now, "ByUser": 1},
            "Timestamp": now}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(body, out, separators=(",", ":"))
    return path


def check_signed_out(page, listener):
    status, body = support.http("GET", listener.origin + "/ui/")
    assert status == 401 and "Not signed in" in body, (status, body)
    status, body = support.http("GET", listener.origin + "/ui/api/deliveries")
    assert status == 401 and "token" in json.loads(body)["error"], (status, body)
    wrong = support.status_without_redirect(f"{listener.origin}/ui/?token=not-the-token-000000")
    assert wrong == 401, wrong
    page.driver.get(listener.origin + "/ui/")
    page.until("the signed-out page", lambda: page.text("h1") == "Not signed in")
    assert not page.find("#rows"), "the signed-out page shows the list"
    step("without the token: 401, a page saying how to sign in, no deliveries")


def sign_in(page, listener):
    page.driver.get(f"{listener.origin}/ui/?token={listener.token}")
    page.until("the page at /ui/, the token out of the address",
               lambda: page.driver.current_url == listener.origin + "/ui/")
    page.until("the page live", lambda: page.text("#live") == "live")
    page.until("the empty list's hint", lambda: "tykhook send" in (page.text("#empty") or ""))
    page.driver.get_log("browser")  # the signed-out page's 401s are behind us
    # Gone if the page reloads: deliveries must arrive without one.
    page.driver.execute_script("document.documentElement.dataset.sameLoad = 'yes'")
    step("signed in: the token became a cookie and left the address bar")


def check_arrivals(page, listener, tykhook, work):
    sent = support.send(tykhook, listener.origin + "/", SECRET, "--all")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    page.until("13 deliveries in the list", lambda: len(page.rows()) == 13)
    support.send(tykhook, listener.origin + "/", SECRET, "--body",
                 bad_body(os.path.join(work, "bad.json")))
    wrong = support.send(tykhook, listener.origin + "/", "not-the-secret-4a9e2b7c11",
                         "--event", "UserRegistered")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    page.until("15 deliveries in the list", lambda: len(page.rows()) == 15)
    verdicts = [row[1] for row in page.rows()]
    assert verdicts[:2] == ["signature_mismatch", "schema_violation"], verdicts
    assert verdicts[2:].count("ok") == 13, verdicts
    page.until("every ok delivery dead in the queue column", lambda: all(
        row[3] == "dead" and row[4] == "1" for row in page.rows() if row[1] == "ok"))
    same = page.driver.execute_script("return document.documentElement.dataset.sameLoad")
    assert same == "yes", "the page reloaded"
    step("15 deliveries appeared newest first without a reload; the 13 ok ones went dead")


def check_filters(page):
    verdict = Select(page.driver.find_element(By.ID, "filter-verdict"))
    event = Select(page.driver.find_element(By.ID, "filter-event"))
    verdict.select_by_value("signature_mismatch")
    page.until("only the mismatch", lambda: [r[1] for r in page.rows()] == ["signature_mismatch"])
    verdict.select_by_value("")
    event.select_by_value("UserRegistered")
    page.until("only UserRegistered", lambda: len(page.rows()) >= 2 and all(
        r[2] == "UserRegistered" for r in page.rows()))
    assert {"ok", "schema_violation"} <= {r[1] for r in page.rows()}, page.rows()
    event.select_by_value("")
    page.until("the whole list again", lambda: len(page.rows()) == 15)
    step("filters: by verdict, by event, and back")


def check_schema_marks(page, delivery_id):
    page.open(delivery_id)
    page.until("a value marked in the body", lambda: page.find("#detail .body .marked"))
    # The value of the wrong type, and the object that lacks a required property.
    marks = page.driver.execute_script("""
        return [...document.querySelectorAll('#detail .body .marked')].map((m) => [
          m.classList.contains('t-object'), m.textContent]);""")
    assert len(marks) == 2, marks
    assert marks[1] == [False, '"twenty-nine"'], marks
    assert marks[0][0] and '"ID": "twenty-nine"' in marks[0][1], marks
    notes = [n.text for n in page.find("#detail .body .note")]
    assert any("expected integer, got string" in n for n in notes), notes
    assert any('missing required property "CustomAttributes"' in n for n in notes), notes
    errors = [e.text for e in page.find("#detail .errors li")]
    assert any(e.endswith("/Message/ID: expected integer, got string") for e in errors), errors
    masked = page.find("#detail .personal.masked")
    assert len(masked) == 3, f"{len(masked)} values masked"  # Email, First and Last
    body_text = page.text("#detail pre.body")
    assert "ada@example.com" not in body_text and "Lovelace" not in body_text, body_text
    masked[0].click()
    page.until("the email shown once clicked",
               lambda: "ada@example.com" in page.text("#detail pre.body"))
    assert "Lovelace" not in page.text("#detail pre.body")
    retry = page.driver.find_element(By.ID, "retry")
    assert not retry.is_enabled(), "Send again is enabled for a delivery that is not queued"
    step("schema error marked at /Message/ID; personal data masked until clicked")


def check_mismatch(page, delivery_id):
    page.open(delivery_id)
    page.until("the mismatch's error", lambda: page.find("#detail .errors li"))
    assert page.text("#detail .detail-head .verdict") == "signature_mismatch"
    step("a signature_mismatch shows its errors")


def check_retry(page, listener, delivery_id):
    page.open(delivery_id)
    page.until("one failed attempt in the history", lambda: len(page.history()) == 1)
    assert page.history()[0][2] == "dead", page.history()
    command = page.driver.find_element(By.ID, "replay-command").get_attribute("value")
    want = (f"tykhook replay tykhook-delivery-{delivery_id}.json --to {listener.origin}/")
    assert command == want, command
    page.driver.find_element(By.ID, "retry").click()
    page.until("the delivery sent back to the queue",
               lambda: "pending" in (page.text("#detail .action-message") or ""))
    page.until("a second attempt in the history", lambda: len(page.history()) == 2)
    page.until("dead again in the view", lambda: page.text("#detail .queue-now .state") == "dead")
    # The store counts attempts from the retry on; the history keeps every one.
    page.until("the list row dead again", lambda: any(
        r[0] == delivery_id and r[3] == "dead" and r[4] == "1" for r in page.rows()))
    full = api(listener, f"/ui/api/deliveries/{delivery_id}")
    assert [h["outcome"] for h in full["queue"]["history"]] == ["dead", "dead"], full["queue"]
    assert full["queue"]["attempts"] == 1, full["queue"]
    step("Send again: pending, then a second attempt, dead again (its target refuses)")


def check_download(page, tykhook, work, delivery_id):
    page.driver.find_element(By.ID, "download").click()
    path = os.path.join(work, f"tykhook-delivery-{delivery_id}.json")
    support.wait_for("the capture downloaded", lambda: os.path.exists(path), TIMEOUT)
    capture = support.wait_for("the capture complete", lambda: read_json(path), TIMEOUT)
    body = json.loads(base64.b64decode(capture["body_base64"]))
    assert body["Event"] == "UserRegistered", body
    verified = subprocess.run(["timeout", "-k", "2", "60", tykhook, "verify", path],
                              env=dict(os.environ, PORTAL_WEBHOOKS_SECRET=SECRET),
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    step("Download capture: a tykhook JSON capture that tykhook verify accepts")


def read_json(path):
    try:
        with open(path, encoding="utf-8") as source:
            return json.load(source)
    except (OSError, ValueError):
        return None


class ForeignSite(http.server.BaseHTTPRequestHandler):
    """Another site on this host: its page POSTs to the inspector with the browser's cookies."""
    target = ""

    def do_GET(self):
        if self.path == "/page.html":
            body = b'<!doctype html><title>foreign</title><script src="/post.js"></script>'
            kind = "text/html"
        else:
            body = (f"fetch({json.dumps(self.target)}, {{method: 'POST', credentials: 'include',"
                    f" mode: 'no-cors'}}).then(() => {{ document.title = 'sent'; }},"
                    f" (e) => {{ document.title = 'failed ' + e; }});").encode()
            kind = "text/javascript"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def check_foreign_origin(page, listener, delivery_id):
    before = api(listener, f"/ui/api/deliveries/{delivery_id}")["queue"]
    path = f"/ui/api/deliveries/{delivery_id}/retry"
    ForeignSite.target = listener.origin + path
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForeignSite)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    foreign = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page.driver.get(foreign + "/page.html")
        page.until("the foreign page's POST made", lambda: page.driver.title == "sent")
        support.wait_for("the refusal in listen's log",
                         lambda: listener.line_matching(rf" POST {path} - - 403 "), TIMEOUT)
    finally:
        server.shutdown()
        server.server_close()
    for headers in [{"Origin": foreign, "Cookie": f"tykhook_ui={listener.token}"},
                    {"Origin": foreign, "Authorization": f"Bearer {listener.token}"}]:
        status, body = support.http("POST", listener.origin + path, headers)
        assert status == 403 and "Origin" in json.loads(body)["error"], (status, body)
    after = api(listener, f"/ui/api/deliveries/{delivery_id}")["queue"]
    assert after == before, (before, after)
    step("a POST from another origin (another port of this host): 403, nothing changed")


def check_console(page):
    problems = [entry["message"] for entry in page.driver.get_log("browser")
                if entry["level"] in ("SEVERE", "WARNING")]
    assert not problems, "the page logged:\n" + "\n".join(problems)
    step("no errors in the browser's console (script, style, policy)")


def screenshot(page, build, name):
    artifacts = os.path.join(build, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    path = os.path.join(artifacts, name)
    page.driver.save_screenshot(path)
    return path


def main():
    if len(sys.argv) != 3:
        print("usage: inspector_browser_test.py BUILD_DIR TYKHOOK", file=sys.stderr)
        return 2
    build, tykhook = sys.argv[1], sys.argv[2]
    work = support.temporary_directory()
    driver = support.chromium(work)
    listener = support.Listener(tykhook, work, SECRET)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": work})
    page = Page(driver, listener)
    try:
        check_signed_out(page, listener)
        sign_in(page, listener)
        check_arrivals(page, listener, tykhook, work)
        rows = page.rows()
        mismatch, invalid = rows[0][0], rows[1][0]
        dead = next(r[0] for r in rows if r[1] == "ok" and r[2] == "UserRegistered")
        check_filters(page)
        check_mismatch(page, mismatch)
        check_retry(page, listener, dead)
        check_download(page, tykhook, work, dead)
        check_schema_marks(page, invalid)
        check_console(page)
        driver.execute_script(
            "document.querySelector('#detail .body .marked').scrollIntoView({block: 'center'})")
        step(f"screenshot: {screenshot(page, build, 'inspector.png')}")
        check_foreign_origin(page, listener, dead)
    except Exception:
        traceback.print_exc()
        try:
            print(f"screenshot: {screenshot(page, build, 'inspector-failure.png')}",
                  file=sys.stderr)
        except Exception as failure:  # the browser itself may be what failed
            print(f"no screenshot: {failure}", file=sys.stderr)
        print("listen's log:\n" + listener.log(), file=sys.stderr)
        return 1
    finally:
        listener.stop()
    step("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
