from hourglass.cli import main

raise SystemExit(main())
