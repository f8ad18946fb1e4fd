from her2kit.cli import main

main()
