# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options and attributes shared by every calipso.topology *_facts module.
    DOCUMENTATION = r"""
options:
  recorded_outputs:
    description:
      - Recorded outputs of the commands the module runs, keyed by the command line exactly as
        the module runs it (for example C(ovs-vsctl --format=json list Bridge)).
      - When given, no command runs on the host and the facts are parsed from these outputs
        (the offline C(parsed) path). A key whose value is null stands for a tool that is not
        installed; a missing key is treated the same way.
    type: dict
    required: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Gathering facts changes nothing, so the module runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
notes:
  - Commands run as argument lists, never through a shell, in the C locale.
  - An absent tool or daemon is reported as C(present=false), not as a failure; output that
    cannot be parsed fails the module with a message that names the command.
"""
