"""Self-configuring runs: a fingerprint of the data and a plan derived from it and the machine
(`seguq plan`, and `seguq train` unless `--no-plan`)."""

from seguq.plan.decisions import Machine
from seguq.plan.planner import Plan, plan_run

__all__ = ["Machine", "Plan", "plan_run"]
