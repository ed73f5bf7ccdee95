from cirt.cli.app import main

main()
