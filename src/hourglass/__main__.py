from hourglass.cli.main import entry

entry()
