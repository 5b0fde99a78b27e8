from broadcaster.cli.root import main

main()
