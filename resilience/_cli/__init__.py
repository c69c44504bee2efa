"""The ``resilience`` command's subcommands, one module each (see :mod:`resilience.cli`).

- :mod:`.explain`: ``resilience explain``, the classifier's verdict on a failure;
- :mod:`.fake_provider`: ``resilience fake-provider``, a fake provider to point clients at;
- :mod:`.simulate_cmd` with :mod:`.simulate` (the two sides), :mod:`.simulate_workload`
  (agents and their calls), :mod:`.simulate_sdk` (the real SDK calls and fake providers),
  :mod:`.simulate_report` (what was counted) and :mod:`.simulate_view` (the live panel
  and tables): ``resilience simulate``.
"""
