from ccrisk.cli import app

app()
