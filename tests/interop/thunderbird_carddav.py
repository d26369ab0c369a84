#!/usr/bin/env python3
"""Debian's Thunderbird, run for real against a GrainMail node's CardDAV address book.

Called by thunderbird-carddav.sh once the node is up (HTTPS with a certificate from a throw-away
test CA). Steps:
  1. seeds a directory through the admin API (departments, accounts, a public contact, a
     visibility rule);
  2. makes a fresh Thunderbird profile (-CreateProfile), puts the test CA into the profile's NSS
     database with certutil, and writes a user.js that keeps Thunderbird quiet and off the network;
  3. starts Thunderbird headless with Marionette, and in its chrome context does what the
     "Add CardDAV Address Book" dialog does on Continue and on picking the book: discovery with
     the user's name and password (CardDAVUtils.detectAddressBooks), create(), which saves the
     login in Thunderbird's password manager and runs the first full sync. One book for a user
     bound by a visibility rule, one for a user who sees the whole domain;
  4. quits Thunderbird and reads what it stored: the books' SQLite files and prefs.js;
  5. changes the directory (a department rename, a new account, an account hidden from the book);
  6. starts Thunderbird again and only waits: its own start-up timer syncs both books with the
     saved login (no password is given this time); quits and reads the SQLite files again;
  7. replaces alice's stored sync token by one the server never gave, adds a public contact and
     starts Thunderbird a third time: the unknown token must be answered so that Thunderbird
     starts over (400) and ends with the whole book again.
Prints every check and ends with PASS or FAIL (exit status 0 or 1).
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

DOMAIN = "example.test"
PASSWORD = "correct horse battery"


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok   {what}")
        else:
            self.failed += 1
            print(f"  FAIL {what}" + (f": {detail}" if detail else ""))
        return ok

    def equal(self, actual, expected, what):
        return self.check(actual == expected, what, f"expected {expected!r}, got {actual!r}")


# ---------------------------------------------------------------- the node's admin API

class Admin:
    def __init__(self, base, token):
        self.base = base
        self.token = token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"admin API {method} {path}: {e.code} {e.read().decode()[:300]}")
        return json.loads(text) if text else None


def seed(admin):
    """The world of the CardDAV tests, made through the admin API:
    example.test ─┬─ Sales ── East
                  └─ Research
    alice (Sales, 张三丰, Manager), andy (Sales/East, Andy Lau), bob (Research, 李四), carol (the
    root, 王小明), hidden (Sales, not in the address book), gone (Sales, disabled); a public
    contact; one rule: members of Sales see only Sales."""
    admin.call("POST", "/api/v1/domains", {"name": DOMAIN})
    sales = admin.call("POST", f"/api/v1/domains/{DOMAIN}/departments", {"name": "Sales"})["id"]
    east = admin.call("POST", f"/api/v1/domains/{DOMAIN}/departments", {"name": "East", "parentId": sales})["id"]
    research = admin.call("POST", f"/api/v1/domains/{DOMAIN}/departments", {"name": "Research"})["id"]
    root = next(d["id"] for d in admin.call("GET", f"/api/v1/domains/{DOMAIN}/departments") if d["depth"] == 1)
    accounts = [
        ("alice", {"displayName": "张三丰", "departmentId": sales, "title": "Manager", "phone": "+86 10 1234 5678"}),
        ("andy", {"displayName": "Andy Lau", "departmentId": east}),
        ("bob", {"displayName": "李四", "departmentId": research}),
        ("carol", {"displayName": "王小明", "departmentId": root}),
        ("hidden", {"displayName": "Hidden Person", "departmentId": sales, "inAddressBook": False}),
        ("gone", {"displayName": "Gone Person", "departmentId": sales, "enabled": False}),
    ]
    for local, fields in accounts:
        admin.call("POST", f"/api/v1/domains/{DOMAIN}/accounts", {"localPart": local, "password": PASSWORD, **fields})
    admin.call("POST", f"/api/v1/domains/{DOMAIN}/contacts",
               {"address": "partner@supplier.example", "displayName": "Partner Sales", "organization": "Partner Ltd"})
    admin.call("POST", f"/api/v1/domains/{DOMAIN}/address-book/rules",
               {"name": "sales see sales", "appliesTo": {"departments": [sales]}, "visibleDepartments": [sales]})
    return {"sales": sales, "east": east, "research": research, "root": root}


def change(admin, ids):
    """The directory change the second sync has to pick up."""
    admin.call("PATCH", f"/api/v1/domains/{DOMAIN}/departments/{ids['sales']}", {"name": "Sales & Marketing"})
    admin.call("POST", f"/api/v1/domains/{DOMAIN}/accounts",
               {"localPart": "dora", "password": PASSWORD, "displayName": "Dora Li", "departmentId": ids["east"], "title": "Engineer"})
    admin.call("PATCH", f"/api/v1/accounts/andy@{DOMAIN}", {"inAddressBook": False})


# ---------------------------------------------------------------- Marionette (JSON over TCP)

class Marionette:
    """The Marionette wire protocol: each message is "<byte length>:<JSON>"; a command is
    [0, id, name, parameters], its answer [1, id, error, result]. The server speaks first."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.next_id = 0
        self.hello = self._read()

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("Marionette closed the connection")
        self.buf += chunk

    def _read(self):
        while b":" not in self.buf:
            self._recv()
        length, rest = self.buf.split(b":", 1)
        n = int(length)
        while len(rest) < n:
            self._recv()
            length, rest = self.buf.split(b":", 1)
        self.buf = rest[n:]
        return json.loads(rest[:n].decode("utf-8"))

    def call(self, name, params=None):
        self.next_id += 1
        data = json.dumps([0, self.next_id, name, params or {}]).encode("utf-8")
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            msg = self._read()
            if isinstance(msg, list) and msg[0] == 1 and msg[1] == self.next_id:
                break
        if msg[2]:
            err = msg[2]
            raise RuntimeError(f"{name}: {err.get('error')}: {err.get('message')}")
        return msg[3]

    def run(self, script, *args):
        return self.call("WebDriver:ExecuteScript", {"script": script, "args": list(args)})["value"]

    def close(self):
        self.sock.close()


# What the dialog's check() and the chosen book's create() do (CardDAVUtils.detectAddressBooks with
# the password the user typed, then create(): the login goes to the password manager and the first
# full sync runs); the result is read back from Thunderbird's own card objects.
JS_COMMON = r"""
const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
const { setTimeout, clearTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
const { AddrBookDataAdapter } = ChromeUtils.importESModule("chrome://messenger/content/addressbook/AddrBookDataAdapter.mjs");
function carddavBooks() {
  return MailServices.ab.directories.filter(d => d.dirType == Ci.nsIAbManager.CARDDAV_DIRECTORY_TYPE);
}
function synced(dir, seconds) {
  return new Promise((resolve, reject) => {
    const observer = {
      observe(subject) {
        if (subject.QueryInterface(Ci.nsIAbDirectory).UID != dir.UID) return;
        Services.obs.removeObserver(observer, "addrbook-directory-synced");
        clearTimeout(timer);
        resolve();
      },
    };
    Services.obs.addObserver(observer, "addrbook-directory-synced");
    const timer = setTimeout(() => {
      Services.obs.removeObserver(observer, "addrbook-directory-synced");
      reject(new Error(`${dir.dirName}: no sync finished within ${seconds} s`));
    }, seconds * 1000);
  });
}
// The cards as Thunderbird's address book shows them: the list's columns come from the same
// AddrBookDataAdapter rows the Address Book tab draws (Organization and Department are ORG's first
// and second components there).
function describe(dir) {
  const adapter = new AddrBookDataAdapter(dir);
  const rows = [];
  for (let i = 0; i < adapter.rowCount; i++) rows.push(adapter.rowAt(i));
  return {
    name: dir.dirName, uid: dir.UID, fileName: dir.fileName, readOnly: dir.readOnly,
    url: dir.getStringValue("carddav.url", ""), username: dir.getStringValue("carddav.username", ""),
    token: dir.getStringValue("carddav.token", ""), syncInterval: dir.getIntValue("carddav.syncinterval", 30),
    cards: rows.map(row => ({
      primaryEmail: row.card.primaryEmail, firstName: row.card.firstName, lastName: row.card.lastName,
      name: row.getText("GeneratedName"), organization: row.getText("Organization"),
      department: row.getText("Department"), jobTitle: row.getText("JobTitle"),
      org: row.card.vCardProperties.getFirstValue("org"), tel: row.card.vCardProperties.getFirstValue("tel"),
    })),
  };
}
// Opens the Address Book tab on one contact, as a click on it does, and reads the contact pane.
async function contactPane(dir, email) {
  const card = dir.childCards.find(c => c.primaryEmail == email);
  if (!card) return null;
  const win = Services.wm.getMostRecentWindow("mail:3pane");
  const ab = await win.toAddressBook(["cmd_displayContact", card]);
  const view = ab.document.getElementById("viewContact");
  for (let i = 0; i < 50 && !view.querySelector(".contact-headings")?.textContent.includes(email); i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  return [...view.querySelectorAll("li")].map(li => li.textContent.replace(/\s+/g, " ").trim());
}
async function logins() {
  return (await Services.logins.getAllLogins()).map(l => ({ origin: l.origin, realm: l.httpRealm, username: l.username }));
}
"""

JS_ADD = JS_COMMON + r"""
const [location, users, paneOf] = arguments;
const { CardDAVUtils } = ChromeUtils.importESModule("resource:///modules/CardDAVUtils.sys.mjs");
return (async () => {
  const books = [];
  for (const { user, password } of users) {
    const found = await CardDAVUtils.detectAddressBooks(user, password, location, false);
    if (found.length != 1) throw new Error(`${user}: discovery found ${found.length} books: ${found.map(b => b.url.href)}`);
    const dir = found[0].create();
    await synced(dir, 90);
    books.push({ found: { name: found[0].name, url: found[0].url.href }, ...describe(dir) });
  }
  const dir = carddavBooks().find(d => d.getStringValue("carddav.username", "") == paneOf.user);
  return { books, logins: await logins(), version: Services.appinfo.version, pane: await contactPane(dir, paneOf.email) };
})();
"""

# The second start: nothing is asked of Thunderbird; its CardDAV books sync by their own start-up
# timer (30 s after the address book is opened), with the login from the password manager.
JS_WAIT = JS_COMMON + r"""
const [paneOf] = arguments;
return (async () => {
  const dirs = carddavBooks();
  const started = Date.now();
  await Promise.all(dirs.map(d => synced(d, 120)));
  const seconds = (Date.now() - started) / 1000;
  const dir = dirs.find(d => d.getStringValue("carddav.username", "") == paneOf.user);
  return { books: dirs.map(describe), seconds, logins: await logins(), pane: await contactPane(dir, paneOf.email) };
})();
"""


# ---------------------------------------------------------------- Thunderbird's profile and process

USER_JS = """// Written by tests/interop/thunderbird_carddav.py: a quiet profile for a headless run.
user_pref("marionette.port", 0);
user_pref("mail.shell.checkDefaultClient", false);
user_pref("mail.provider.enabled", false);
// A profile without accounts opens the Account Hub over the window on start, which would keep the
// Address Book tab from opening.
user_pref("mail.provider.suppress_dialog_on_startup", true);
user_pref("mailnews.start_page.enabled", false);
user_pref("mail.rights.override", true);
user_pref("app.update.disabledForTesting", true);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.trr.mode", 5);
user_pref("security.OCSP.enabled", 0);
user_pref("services.settings.server", "http://127.0.0.1:9/");
// Nothing leaves this machine: every URL but localhost goes to a proxy port where nothing listens.
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "127.0.0.1");
user_pref("network.proxy.http_port", 9);
user_pref("network.proxy.ssl", "127.0.0.1");
user_pref("network.proxy.ssl_port", 9);
user_pref("network.proxy.no_proxies_on", "localhost, 127.0.0.1");
// Thunderbird's CardDAV log (discovery and sync) on standard output.
user_pref("carddav.setup.loglevel", "Debug");
user_pref("carddav.sync.loglevel", "Debug");
user_pref("devtools.console.stdout.chrome", true);
"""


def make_profile(home, profile, ca):
    env = dict(os.environ, HOME=home)
    subprocess.run(["thunderbird", "--headless", "-CreateProfile", f"grainmail-interop {profile}"],
                   env=env, check=True, capture_output=True, timeout=120)
    # The test CA goes into the profile's own NSS database (cert9.db), trusted for TLS servers only.
    subprocess.run(["certutil", "-N", "-d", f"sql:{profile}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{profile}", "-n", "GrainMail interop test CA", "-t", "C,,", "-i", ca],
                   check=True, capture_output=True)
    listed = subprocess.run(["certutil", "-L", "-d", f"sql:{profile}"], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(profile, "user.js"), "w") as f:
        f.write(USER_JS)
    return listed


class Thunderbird:
    def __init__(self, home, profile, log):
        self.profile = profile
        port_file = os.path.join(profile, "MarionetteActivePort")
        if os.path.exists(port_file):
            os.remove(port_file)
        env = dict(os.environ, HOME=home, MOZ_HEADLESS="1")
        self.log = open(log, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["thunderbird", "--headless", "--marionette", "-remote-allow-system-access", "--no-remote", "-profile", profile],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None:
                raise RuntimeError(f"Thunderbird exited with {self.proc.returncode} before Marionette listened (see {log})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Marionette did not start within 120 s (see {log})")
            time.sleep(0.2)
        self.ready_seconds = time.monotonic() - self.started
        self.m = Marionette(int(open(port_file).read().strip()), timeout=300)
        self.m.call("WebDriver:NewSession", {"capabilities": {}})
        self.m.call("Marionette:SetContext", {"value": "chrome"})
        self.m.call("WebDriver:SetTimeouts", {"script": 240000})

    def quit(self):
        try:
            self.m.call("Marionette:Quit", {"flags": ["eAttemptQuit"]})
            self.m.close()
        except (OSError, RuntimeError, EOFError):
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()


# ---------------------------------------------------------------- what Thunderbird stored

def stored_cards(profile, file_name):
    """The cards in a book's SQLite file: {uid: {property: value}} (Thunderbird keeps each card as
    rows of (card, name, value); _vCard is its own rendering of the server's vCard)."""
    path = os.path.join(profile, file_name)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cards = {}
        for card, name, value in db.execute("SELECT card, name, value FROM properties"):
            cards.setdefault(card, {})[name] = value
        return cards
    finally:
        db.close()


def vcard_value(vcard, prop):
    """The raw value of the first PROP line of a vCard (unfolded), or None."""
    text = re.sub(r"\r?\n[ \t]", "", vcard or "")
    for line in text.splitlines():
        name = line.split(":", 1)[0].split(";", 1)[0]
        if name.upper() == prop and ":" in line:
            return line.split(":", 1)[1]
    return None


def by_email(cards):
    return {c.get("PrimaryEmail"): c for c in cards.values()}


def check_book(c, label, profile, book, expected, addresses):
    """expected: {email: (display name, ORG as stored, Department as Thunderbird reads it)}."""
    stored = stored_cards(profile, book["fileName"])
    mails = by_email(stored)
    c.equal(len(stored), len(expected), f"{label}: {len(expected)} cards in {book['fileName']}")
    c.equal(sorted(mails), sorted(expected), f"{label}: the cards are exactly the visible entries")
    for hidden in addresses:
        if hidden not in expected:
            c.check(hidden not in mails, f"{label}: no card for {hidden}")
    live = {x["primaryEmail"]: x for x in book["cards"]}
    for mail, (name, org, department) in expected.items():
        card = mails.get(mail)
        if card is None:
            continue
        c.equal(card.get("DisplayName"), name, f"{label}: {mail} DisplayName")
        c.equal(vcard_value(card.get("_vCard"), "ORG"), org, f"{label}: {mail} ORG in the stored vCard" if org else f"{label}: {mail} no ORG")
        c.check(card.get("_href", "").startswith(f"/carddav/addressbooks/"), f"{label}: {mail} has the server's href and an etag",
                f"href {card.get('_href')!r}")
        c.check(bool(card.get("_etag")), f"{label}: {mail} etag stored")
        if mail in live:
            c.equal(live[mail]["department"], department, f"{label}: {mail} Department column")
    return stored


def pane_has(items, value):
    """Whether an entry of the contact pane shows VALUE (its label, "Organization", is drawn by
    Fluent and may not be in the text yet when read)."""
    return any(item == value or item.endswith(" " + value) for item in items or [])


def prefs_js(profile):
    with open(os.path.join(profile, "prefs.js"), encoding="utf-8") as f:
        return f.read()


def phase(home, profile, log, shot, script, *args):
    """Starts Thunderbird, runs one chrome script, screenshots the window (the Address Book tab the
    script left open) and quits; None when the script failed (Thunderbird's log is printed)."""
    tb = Thunderbird(home, profile, log)
    try:
        result = tb.m.run(script, *args)
        png = tb.m.call("WebDriver:TakeScreenshot", {"full": False, "hash": False})["value"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        result["ready"] = tb.ready_seconds
        return result
    except RuntimeError as e:
        print(f"  FAIL {e}\n--- the end of {log}:")
        print(open(log, errors="replace").read()[-4000:])
        return None
    finally:
        tb.quit()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--https", default="https://localhost:18443")
    ap.add_argument("--admin", default="http://127.0.0.1:18080")
    ap.add_argument("--token", default="bench-token")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--work", required=True, help="a directory for Thunderbird's HOME, profile and logs")
    args = ap.parse_args()

    c = Checks()
    admin = Admin(args.admin, args.token)
    ids = seed(admin)
    alice, carol = f"alice@{DOMAIN}", f"carol@{DOMAIN}"
    everyone = [f"{x}@{DOMAIN}" for x in ("alice", "andy", "bob", "carol", "hidden", "gone", "dora")] + ["partner@supplier.example"]

    home = os.path.join(args.work, "home")
    profile = os.path.join(args.work, "profile")
    log = os.path.join(args.work, "thunderbird.log")
    os.makedirs(home, exist_ok=True)
    print(f"Thunderbird: {subprocess.run(['thunderbird', '--version'], capture_output=True, text=True).stdout.strip()}")
    listed = make_profile(home, profile, args.ca)
    c.check("GrainMail interop test CA" in listed, "the test CA is in the profile's NSS database")

    # 1. Add both books as the dialog does, first sync.
    location = args.https + "/.well-known/carddav"
    print(f"First start: add the CardDAV books from {location} (user and password given once), full sync")
    t0 = time.monotonic()
    first = phase(home, profile, log, os.path.join(args.work, "first.png"), JS_ADD, location,
                  [{"user": alice, "password": PASSWORD}, {"user": carol, "password": PASSWORD}],
                  {"user": alice, "email": f"andy@{DOMAIN}"})
    if first is None:
        print("FAIL")
        return 1
    print(f"  Thunderbird {first['version']}: Marionette ready after {first['ready']:.1f} s, run {time.monotonic() - t0:.1f} s")
    books = {b["username"]: b for b in first["books"]}
    for user in (alice, carol):
        b = books.get(user)
        if not c.check(b is not None, f"{user}: book created with carddav.username = the user"):
            continue
        c.equal(b["found"]["url"], f"{args.https}/carddav/addressbooks/{user}/directory/", f"{user}: discovery found the book")
        c.check(b["readOnly"], f"{user}: the book is read-only in Thunderbird")
        c.check(bool(b["token"]), f"{user}: a sync token was stored", b["token"])
    c.equal(sorted((l["origin"], l["username"]) for l in first["logins"]), sorted([(args.https, alice), (args.https, carol)]),
            "both logins are in Thunderbird's password manager")
    c.check(all(l["realm"] == "GrainMail" for l in first["logins"]), "logins saved with the server's realm", str(first["logins"]))
    # Thunderbird keeps the ORG units as given; its "Department" column and field take the first unit only.
    sales_org = f"{DOMAIN};Sales"
    alice_expect = {
        alice: ("张三丰", sales_org, "Sales"),
        f"andy@{DOMAIN}": ("Andy Lau", f"{DOMAIN};Sales;East", "Sales"),
        "partner@supplier.example": ("Partner Sales", "Partner Ltd", ""),
    }
    carol_expect = dict(alice_expect)
    carol_expect.update({f"bob@{DOMAIN}": ("李四", f"{DOMAIN};Research", "Research"), carol: ("王小明", DOMAIN, "")})
    if alice in books:
        check_book(c, "alice (rule: Sales sees Sales)", profile, books[alice], alice_expect, everyone)
        live = {x["primaryEmail"]: x for x in books[alice]["cards"]}
        if alice in live:
            a = live[alice]
            c.equal((a["firstName"], a["lastName"]), ("三丰", "张"), "alice: first and last name from N")
            c.equal(a["jobTitle"], "Manager", "alice: Title column from TITLE")
            c.equal(a["organization"], DOMAIN, "alice: Organization column (ORG's first component) is the domain")
            c.equal(a["tel"], "+86 10 1234 5678", "alice: TEL")
        andy = live.get(f"andy@{DOMAIN}")
        if andy:
            c.equal(andy["org"], [DOMAIN, "Sales", "East"], "andy: Thunderbird's card holds the whole ORG path")
    # The contact pane shows every ORG component, innermost first: the department path in full.
    c.check(pane_has(first["pane"], f"East • Sales • {DOMAIN}"), "andy's contact pane: Organization East • Sales • example.test",
            str(first["pane"]))
    if carol in books:
        check_book(c, "carol (no rule: the whole domain)", profile, books[carol], carol_expect, everyone)
    prefs = prefs_js(profile)
    c.check(prefs.count('.dirType", 102)') >= 2, "prefs.js: two CardDAV directories (dirType 102)")

    # 2. Change the directory; Thunderbird's own timer syncs with the saved logins.
    change(admin, ids)
    print("Directory changed: Sales renamed 'Sales & Marketing', dora added to Sales/East, andy hidden from the book")
    print("Second start: nothing given to Thunderbird; wait for its start-up sync (30 s timer) with the saved logins")
    t1 = time.monotonic()
    second = phase(home, profile, log, os.path.join(args.work, "second.png"), JS_WAIT, {"user": carol, "email": f"dora@{DOMAIN}"})
    if second is None:
        print("FAIL")
        return 1
    print(f"  synced {second['seconds']:.1f} s after the address book opened; run {time.monotonic() - t1:.1f} s")
    books2 = {b["username"]: b for b in second["books"]}
    renamed = f"{DOMAIN};Sales & Marketing"
    alice_expect2 = {
        alice: ("张三丰", renamed, "Sales & Marketing"),
        f"dora@{DOMAIN}": ("Dora Li", f"{renamed};East", "Sales & Marketing"),
        "partner@supplier.example": ("Partner Sales", "Partner Ltd", ""),
    }
    carol_expect2 = dict(alice_expect2)
    carol_expect2.update({f"bob@{DOMAIN}": ("李四", f"{DOMAIN};Research", "Research"), carol: ("王小明", DOMAIN, "")})
    for user, expect, label in ((alice, alice_expect2, "alice after the change"), (carol, carol_expect2, "carol after the change")):
        b = books2.get(user)
        if not c.check(b is not None, f"{label}: the book is still there"):
            continue
        c.check(b["token"] and b["token"] != books[user]["token"], f"{label}: a new sync token (sync-collection was used)",
                f"{books[user]['token']!r} -> {b['token']!r}")
        check_book(c, label, profile, b, expect, everyone)
    c.equal(len(second["logins"]), 2, "no other login was saved (no prompt was answered)")
    c.check(pane_has(second["pane"], f"East • Sales & Marketing • {DOMAIN}"),
            "dora's contact pane (carol's book): Organization East • Sales & Marketing • example.test", str(second["pane"]))

    # 3. A sync token the server no longer knows (GrainMail keeps the last 8 states of a book): made
    # here by changing alice's stored token to a well-formed one of no state while Thunderbird is
    # closed. Thunderbird starts over only when sync-collection answers 400; the server gives it that.
    prefs = prefs_js(profile)
    key = re.search(r'user_pref\("ldap_2\.servers\.([^.]+)\.carddav\.username", "' + re.escape(alice) + r'"\);', prefs).group(1)
    token_line = re.search(r'user_pref\("ldap_2\.servers\.' + re.escape(key) + r'\.carddav\.token", "([^"]*)"\);', prefs)
    forged = token_line.group(1)[:-32] + "0" * 32
    with open(os.path.join(profile, "prefs.js"), "w", encoding="utf-8") as f:
        f.write(prefs.replace(token_line.group(0), token_line.group(0).replace(token_line.group(1), forged)))
    admin.call("POST", f"/api/v1/domains/{DOMAIN}/contacts", {"address": "new@supplier.example", "displayName": "New Supplier"})
    print(f"alice's token replaced by one the server never gave ({forged}); a public contact added")
    print("Third start: wait for the start-up sync again")
    log_before = len(open(log, "rb").read())
    third = phase(home, profile, log, os.path.join(args.work, "third.png"), JS_WAIT, {"user": alice, "email": alice})
    if third is None:
        print("FAIL")
        return 1
    books3 = {b["username"]: b for b in third["books"]}
    new_contact = {"new@supplier.example": ("New Supplier", None, "")}
    third_log = open(log, "rb").read()[log_before:].decode("utf-8", "replace")
    c.check("responded with: 400" in third_log, "alice's sync-collection with the unknown token was answered 400 (Thunderbird logged it)")
    for user, expect, label in ((alice, alice_expect2, "alice after the unknown token"), (carol, carol_expect2, "carol, third sync")):
        b = books3.get(user)
        if not c.check(b is not None, f"{label}: the book is still there"):
            continue
        c.check(b["token"] not in ("", forged, books2[user]["token"]), f"{label}: a fresh sync token", b["token"])
        check_book(c, label, profile, b, {**expect, **new_contact}, everyone + ["new@supplier.example"])

    log_text = open(log, errors="replace").read()
    c.check("Sync with server failed" not in log_text, "Thunderbird logged no failed sync", "see " + log)
    print(f"{c.passed} passed, {c.failed} failed")
    print("PASS" if c.failed == 0 else "FAIL")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
