package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "p2pglance:", err)
		os.Exit(1)
	}
}

const usage = `usage: p2pglance <command> [flags]

commands:
  agent     run a p2pglance node (see: p2pglance agent --help)
  metadefs  load metadata definitions: p2pglance metadefs load [--node URL] FILE...
  fetch     download an image to a local file, verified and resumable: p2pglance fetch IMAGE_ID --to PATH
  prefetch  put an image on many nodes and follow progress: p2pglance prefetch IMAGE_ID --all | --zone Z ...
  version   print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "agent":
		return runAgent(ctx, args[1:], stderr)
	case "metadefs":
		return runMetadefs(ctx, args[1:], stdout, stderr)
	case "fetch":
		return runFetch(ctx, args[1:], stderr)
	case "prefetch":
		return runPrefetch(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "p2pglance", version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
