from modelyard.cli.main import app

app(prog_name="modelyard")
