"""One module per subcommand: parse the arguments, call the library, print paths or JSON.

Each module defines `register(app)`; gan_cli.cli lists the modules in COMMAND_MODULES.
"""
