"""Orphan cleanup plans: the versioned, signed JSON contract between spendscope and cleanup jobs.

``plan.build_plan`` lists each orphan with the action proposed, its owner and waste, and the
protected ones apart; ``verify.verify_plan`` is what every consumer runs first;
``verify.approve_plan`` records who approved what. The executor that acts on a plan is
``spendscope.remediation`` (exporters never call a cloud API). This package imports nothing on
its own: spendscope.config loads ``settings`` with every command.
"""
