package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// cmdAuditVerify checks the audit log's hash chain: exit 0 when it
// holds, else 1 naming the first entry that does not.
func cmdAuditVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", "tocsin audit verify [--config FILE | --data DIR]", stderr)
	var sf storeFlags
	_, st, err := storeArgs(fs, &sf, args, 0, "audit verify takes no arguments")
	if err != nil {
		return err
	}
	defer st.Close()
	n, brk, err := st.VerifyAudit(context.Background())
	if err != nil {
		return err
	}
	if brk != nil {
		fmt.Fprintf(stderr, "audit chain broken after %d good entries: %v\n", n, brk)
		return exitError(1)
	}
	fmt.Fprintf(stdout, "audit chain intact: %d entries\n", n)
	return nil
}

var errAuditUsage = errors.New("usage: tocsin audit verify [--config FILE | --data DIR]")
