"""Durable runs: a run as a workflow of a durable-execution engine, surviving the process it started in.

:mod:`agent_fsm.durable.temporal` runs one agent run as one Temporal workflow execution
(``pip install 'agent-fsm[temporal]'``). This package imports nothing optional by itself;
``temporalio`` is loaded only when that module is.
"""
