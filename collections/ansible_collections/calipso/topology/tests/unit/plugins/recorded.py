# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Reading the recorded outputs under tests/unit/fixtures, for every unit test of the
collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def fixture_text(*parts):
    with open(os.path.join(FIXTURES, *parts)) as handle:
        return handle.read()


def fixture_json(*parts):
    return json.loads(fixture_text(*parts))


def recorded_folder(*parts):
    """{command line: stdout} from a folder of <command_line_with_underscores>.txt files."""
    folder = os.path.join(FIXTURES, *parts)
    return dict((name[:-len(".txt")].replace("_", " "), fixture_text(*(parts + (name,))))
                for name in sorted(os.listdir(folder)) if name.endswith(".txt"))
