# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Where the facts modules' command outputs come from: the host itself, or recorded outputs.

Collectors ask a source for the output of an argv. A live source runs it on the host (argv list,
never a shell, C locale) and answers None when the tool is not installed, so that an absent tool
or daemon becomes a fact, not a failure. A recorded source answers from outputs captured
earlier, keyed by the command line, which is the offline `parsed` path: the same parsers, no
host needed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

C_LOCALE = {"LC_ALL": "C", "LANG": "C"}


class CommandError(Exception):
    """A command failed or printed what its parser cannot read; the message names it."""

    def __init__(self, command, message):
        self.command = command
        super(CommandError, self).__init__("%s: %s" % (command, message))


def command_line(argv):
    """The key of a command in recorded outputs and in error messages."""
    return " ".join(argv)


class LiveSource:
    """Runs commands on this host through AnsibleModule.run_command."""

    def __init__(self, module):
        self._module = module

    def run(self, argv, check=True):
        """stdout of argv; None if its program is not installed; CommandError if it fails and
        check is set (with check unset, a failing command answers None too)."""
        path = self._module.get_bin_path(argv[0])
        if path is None:
            return None
        rc, out, err = self._module.run_command([path] + list(argv[1:]),
                                                environ_update=C_LOCALE)
        if rc != 0:
            if check:
                raise CommandError(command_line(argv),
                                   "exited %d: %s" % (rc, (err or out).strip()[:500]))
            return None
        return out


class RecordedSource:
    """Answers from recorded outputs: {command line: stdout or None (tool absent)}."""

    def __init__(self, outputs):
        self._outputs = dict(outputs)

    def run(self, argv, check=True):
        return self._outputs.get(command_line(argv))
