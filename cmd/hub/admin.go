package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/stagelink/stagelink/cmd/internal/cli"
	"github.com/stagelink/stagelink/web"
	"github.com/stagelink/stagelink/web/store"
)

// contentConfig is where the hub keeps its content: MySQL with -mysql, else SQLite in -data.
func contentConfig(mysql cli.Secret, data string) store.Config {
	return store.Config{MySQL: string(mysql), Path: filepath.Join(data, "content.db")}
}

// runAdmin is `hub admin …`: account management from the command line, for the first admin and for when
// everyone is locked out.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: hub admin create -name NAME [-role admin|moderator] [-data DIR | -mysql DSN]")
		fmt.Fprintln(stderr, "The password is read from STAGELINK_ADMIN_PASSWORD, or else from the first line of standard input.")
		return errors.New("admin: unknown or missing subcommand")
	}
	fs := flag.NewFlagSet("hub admin create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		name, role, data string
		mysql            cli.Secret
	)
	fs.StringVar(&name, "name", "", "account name: 1–32 of a-z, 0-9, '.', '_' and '-'")
	fs.StringVar(&role, "role", string(store.RoleAdmin), "admin or moderator")
	fs.StringVar(&data, "data", "./data", "the hub's data directory (its embedded content store)")
	fs.Var(&mysql, "mysql", "MySQL DSN of the content store, as the hub's -mysql")
	if err := cli.Parse(fs, args[1:], "STAGELINK_", getenv); err != nil {
		return err
	}
	if name == "" {
		return errors.New("admin create: -name is required")
	}
	if role != string(store.RoleAdmin) && role != string(store.RoleModerator) {
		return fmt.Errorf("admin create: -role %q: want admin or moderator", role)
	}
	password := getenv("STAGELINK_ADMIN_PASSWORD")
	if password == "" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("admin create: give the password in STAGELINK_ADMIN_PASSWORD or on standard input")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		return fmt.Errorf("admin create: %w", err)
	}
	cfg := contentConfig(mysql, data)
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := db.CreateAccount(ctx, name, store.Role(role), hash)
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("admin create: an account named %q exists already", strings.ToLower(name))
	}
	if err != nil {
		return fmt.Errorf("admin create: %w", err)
	}
	if err := db.Audit(ctx, store.AuditEntry{Actor: "hub admin create", Action: "account.create", Target: a.Name, Detail: string(a.Role)}); err != nil {
		fmt.Fprintln(stderr, "warning: the audit log was not written:", err)
	}
	fmt.Fprintf(stdout, "created %s %q: log in at /admin\n", a.Role, a.Name)
	return nil
}
