from hourglass.cli import entry

entry()
