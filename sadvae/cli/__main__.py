from sadvae.cli import main

raise SystemExit(main())
