package main

import "flag"

// backupsSubHelp prints the manual page of one backups subcommand when args
// are "<sub> ... --help", so `backups list --help` is about list (with only
// the flags list takes), not the whole command. It reports whether it
// printed.
func backupsSubHelp(env *Env, fs *flag.FlagSet, args []string) bool {
	if len(args) < 2 {
		return false
	}
	if _, ok := manual["backups "+args[0]]; !ok {
		return false
	}
	for _, a := range args[1:] {
		if a == "-h" || a == "-help" || a == "--help" {
			printPage(env.Stdout, "backups "+args[0], fs)
			return true
		}
	}
	return false
}
