// Command pgcluster runs a throwaway PostgreSQL cluster (store/postgres/pgtest)
// until it is interrupted, printing its URL, for measuring by hand:
//
//	go run ./bench/pgcluster
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"meapi/store/postgres/pgtest"
)

func main() {
	c, err := pgtest.StartCluster(os.Args[1:]...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		os.Exit(1)
	}
	defer c.Stop()
	fmt.Println(c.URL())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	<-ch
}
