from aifo.cli import main

main()
