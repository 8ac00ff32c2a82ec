from railtrack.cli.main import run

run()
