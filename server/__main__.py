"""`python -m dbsage.server`: the same as the `dbsage` command."""

from dbsage.server.cli import main

raise SystemExit(main())
