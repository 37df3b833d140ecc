"""``python -m benchmarks``: the in-process suite; ``--help`` lists the options."""

from benchmarks.suite import main

raise SystemExit(main())
