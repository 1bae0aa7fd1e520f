// Command gcbulk carries out long bulk changes to Genesys Cloud users with a
// durable ledger, an adaptive rate and a resumable, auditable record.
package main

import "os"

func main() {
	os.Exit(run(os.Args))
}
