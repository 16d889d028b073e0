from imagearena.cli import main

main()
