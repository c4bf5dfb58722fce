from aifo.entry import main

main()
