"""``python -m explorer`` is the same as the ``seqvis`` command."""

from explorer.app import main

raise SystemExit(main())
