package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/herald-msg/herald/secret"
)

// runEncrypt prints the "enc:v1:" form of the value read from stdin (its trailing newline
// dropped) under HERALD_SECRET_KEY, for the configuration file or HERALD_PROVIDERS;
// --generate-key prints a fresh key instead.
func runEncrypt(args []string, env func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("encrypt", flag.ContinueOnError)
	generate := fs.Bool("generate-key", false, "print a new random HERALD_SECRET_KEY and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *generate {
		_, err := fmt.Fprintln(stdout, secret.GenerateKey())
		return err
	}
	raw := env("HERALD_SECRET_KEY")
	if raw == "" {
		return errors.New("HERALD_SECRET_KEY is not set; create one with `herald encrypt --generate-key` and keep it out of the configuration file")
	}
	key, err := secret.ParseKey(raw)
	if err != nil {
		return fmt.Errorf("HERALD_SECRET_KEY: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(stdin), 64<<10))
	if err != nil {
		return fmt.Errorf("error reading the value from stdin: %w", err)
	}
	value := strings.TrimRight(string(b), "\r\n")
	if value == "" {
		return errors.New("nothing to encrypt: write the value on stdin, as in printf %s \"$SECRET\" | herald encrypt")
	}
	if secret.IsSealed(value) {
		return errors.New("the value is encrypted already")
	}
	_, err = fmt.Fprintln(stdout, key.Seal([]byte(value)))
	return err
}

// encryptCommand runs runEncrypt on the process's environment and standard streams.
func encryptCommand(args []string) error {
	return runEncrypt(args, os.Getenv, os.Stdin, os.Stdout)
}
