from regentra.cli import main

main()
