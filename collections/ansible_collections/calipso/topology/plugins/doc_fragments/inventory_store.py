# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # What every calipso.topology module working on an environment's stored inventory shares.
    DOCUMENTATION = r"""
requirements:
  - calipso (the Python distribution of calipso_core) on the controller
options:
  environment:
    description: The environment's name in the inventory.
    type: str
    required: true
  store:
    description:
      - The inventory store, C(mongodb://...) or the path of the embedded store.
      - Defaults to C(CALIPSO_STORE) from the environment, then C(/var/lib/calipso/inventory.db).
    type: str
"""
