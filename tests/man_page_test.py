#!/usr/bin/env python3
"""Checks that the man page and the program's --help name the same commands and options.

    man_page_test.py TYKHOOK MAN_PAGE

Every subcommand that `tykhook --help` lists (and the subcommands of those) must have an entry
in the man page's COMMANDS section and a line in its SYNOPSIS; every option that a command's
--help lists must be named in that command's entry (the secret options may instead be named in
the SECRETS section), and every option an entry names must be one that the command takes. Exits
1 with one line per difference, so that the two cannot drift apart.
"""

import re
import subprocess
import sys

OPTION = re.compile(r"--[a-z][a-z0-9-]*")
SHARED_SECTIONS = ("SECRETS",)


def help_text(tykhook, words):
    run = subprocess.run([tykhook, *words, "--help"], capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        sys.exit(f"man_page_test: `tykhook {' '.join(words)} --help` exited {run.returncode}")
    return run.stdout


def subcommands(text):
    """The names listed under "Subcommands:" in a --help text."""
    names = []
    listing = False
    for line in text.splitlines():
        if line.strip() == "Subcommands:":
            listing = True
        elif listing and re.match(r"^  [a-z]", line):
            names.append(line.split()[0])
        elif listing and line.strip() == "":
            listing = False
    return names


def options(text):
    """The long options that a --help text offers, less --help itself."""
    found = set()
    for line in text.splitlines():
        match = re.match(r"^\s+(?:-\w,)?(--[a-z][a-z0-9-]*)", line)
        if match:
            found.add(match.group(1))
    return found - {"--help"}


def plain(man):
    """The man page's source with roff's escaped hyphens and font changes made plain."""
    text = man.replace("\\-", "-").replace("\\c", "")
    return re.sub(r"\\f[BIRP]", "", text)


def sections(text):
    """The text of each .SH section, by its title."""
    parts = re.split(r"^\.SH\s+(.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip().strip('"'): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def entries(commands_section):
    """The entry of each command in COMMANDS: from `.TP` + `.B name` to the next such entry."""
    found = {}
    pieces = re.split(r"^\.TP\n\.B ([a-z]+)\n", commands_section, flags=re.MULTILINE)
    for i in range(1, len(pieces) - 1, 2):
        found[pieces[i]] = re.split(r"^\.(?:PP|SH)", pieces[i + 1], flags=re.MULTILINE)[0]
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: man_page_test.py TYKHOOK MAN_PAGE")
    tykhook, man_path = sys.argv[1], sys.argv[2]
    with open(man_path, encoding="utf-8") as file:
        man = sections(plain(file.read()))
    for required in ("SYNOPSIS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT"):
        if required not in man:
            sys.exit(f"man_page_test: the man page has no {required} section")
    by_command = entries(man["COMMANDS"])
    shared = set().union(*(OPTION.findall(man.get(name, "")) for name in SHARED_SECTIONS))

    problems = []
    checked = 0
    for command in subcommands(help_text(tykhook, [])):
        top = help_text(tykhook, [command])
        offered = options(top)
        for nested in subcommands(top):
            offered |= options(help_text(tykhook, [command, nested]))
            if not re.search(rf"\b{nested}\b", by_command.get(command, "")):
                problems.append(f"{command} {nested}: not described in the entry of {command}")
        checked += 1
        if not re.search(rf"^\.B tykhook {command}\b", man["SYNOPSIS"], flags=re.MULTILINE):
            problems.append(f"{command}: not in the SYNOPSIS")
        if command not in by_command:
            problems.append(f"{command}: no entry in COMMANDS")
            continue
        named = set(OPTION.findall(by_command[command]))
        for option in sorted(offered - named - shared):
            problems.append(f"{command} {option}: in --help, not in the man page")
        for option in sorted(named - offered):
            problems.append(f"{command} {option}: in the man page, not in --help")
    for command in sorted(set(by_command) - set(subcommands(help_text(tykhook, [])))):
        problems.append(f"{command}: in the man page's COMMANDS, not a command of --help")

    for problem in problems:
        print(f"man_page_test: {problem}")
    print(f"man_page_test: {checked} commands checked, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
