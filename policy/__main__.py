"""Entry point Pulumi runs for `--policy-pack policy`; building the pack starts the policy server."""

import os
import sys

from pulumi_policy import PolicyPack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rules import POLICIES

PolicyPack(name="image-pipeline", policies=POLICIES)
