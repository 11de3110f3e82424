import BinfmtCommands

BinfmtctlMain.run()
