package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// Page is the content shown on the viewer page.
type Page struct {
	Title        string    `json:"title"`        // 1–120 runes, one line
	Description  string    `json:"description"`  // ≤ 1000 runes, may have newlines
	Announcement string    `json:"announcement"` // ≤ 280 runes, one line; "" shows none
	Links        []Link    `json:"links"`        // ≤ 20
	Sections     []Section `json:"sections"`     // ≤ 20
	UpdatedAt    time.Time `json:"updatedAt"`
	UpdatedBy    string    `json:"updatedBy"`
}

// Link is a link on the viewer page.
type Link struct {
	Label string `json:"label"` // 1–60 runes, one line
	URL   string `json:"url"`   // absolute http or https URL, ≤ 500 bytes, no user name or password
}

// Section is a headed block of text on the viewer page.
type Section struct {
	Heading string `json:"heading"` // 1–120 runes, one line
	Body    string `json:"body"`    // ≤ 4000 runes, newlines allowed
}

// Limits of a Page.
const (
	MaxTitleRunes        = 120
	MaxDescriptionRunes  = 1000
	MaxAnnouncementRunes = 280
	MaxLinks             = 20
	MaxLinkLabelRunes    = 60
	MaxURLBytes          = 500
	MaxSections          = 20
	MaxHeadingRunes      = 120
	MaxBodyRunes         = 4000
	// MaxActorBytes bounds who did something (UpdatedBy, CreatedBy, By): an account name or a label
	// such as "api:streamerbot".
	MaxActorBytes = 64
)

// DefaultPage returns the page shown until the streamer sets one: title "stagelink", the rest empty.
func DefaultPage() Page {
	return Page{Title: "stagelink", Links: []Link{}, Sections: []Section{}}
}

// Validate checks the page's text and links (not UpdatedAt and UpdatedBy, which SetPage sets). Its
// errors wrap ErrInvalid and say which field to fix.
func (p Page) Validate() error {
	if err := (textRule{name: "title", min: 1, max: MaxTitleRunes}).check(p.Title); err != nil {
		return err
	}
	if err := (textRule{name: "description", max: MaxDescriptionRunes, multiline: true}).check(p.Description); err != nil {
		return err
	}
	if err := (textRule{name: "announcement", max: MaxAnnouncementRunes}).check(p.Announcement); err != nil {
		return err
	}
	if len(p.Links) > MaxLinks {
		return invalidf("the page has %d links; at most %d are allowed", len(p.Links), MaxLinks)
	}
	for i, l := range p.Links {
		if err := (textRule{name: fmt.Sprintf("link %d label", i+1), min: 1, max: MaxLinkLabelRunes}).check(l.Label); err != nil {
			return err
		}
		if err := checkLinkURL(fmt.Sprintf("link %d URL", i+1), l.URL); err != nil {
			return err
		}
	}
	if len(p.Sections) > MaxSections {
		return invalidf("the page has %d sections; at most %d are allowed", len(p.Sections), MaxSections)
	}
	for i, s := range p.Sections {
		if err := (textRule{name: fmt.Sprintf("section %d heading", i+1), min: 1, max: MaxHeadingRunes}).check(s.Heading); err != nil {
			return err
		}
		if err := (textRule{name: fmt.Sprintf("section %d text", i+1), max: MaxBodyRunes, multiline: true}).check(s.Body); err != nil {
			return err
		}
	}
	return nil
}

// checkLinkURL accepts an absolute http or https URL with a host, at most MaxURLBytes, without white
// space, control characters, backslashes (browsers read them as "/", Go does not) or a user name and
// password (https://bank.example@evil.example). The URL is stored as given.
func checkLinkURL(name, s string) error {
	if err := (textRule{name: name, min: 1, max: MaxURLBytes, bytes: true}).check(s); err != nil {
		return err
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r == '\\' || unicode.IsSpace(r) }) {
		return invalidf("%s must not contain spaces or backslashes", name)
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalidf("%s is not a valid URL", name)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalidf("%s must start with https:// or http://", name)
	}
	if u.Host == "" || u.Hostname() == "" {
		return invalidf("%s has no host name: write it as https://example.com/…", name)
	}
	if u.User != nil {
		return invalidf("%s must not contain a user name or password", name)
	}
	return nil
}

// Page returns the viewer page: DefaultPage until one is set.
func (db *DB) Page(ctx context.Context) (Page, error) {
	var p Page
	var links, sections string
	var updated int64
	err := db.sql.QueryRowContext(ctx,
		"SELECT title, description, announcement, links, sections, updated_at, updated_by FROM page WHERE id = 1",
	).Scan(&p.Title, &p.Description, &p.Announcement, &links, &sections, &updated, &p.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPage(), nil
	}
	if err != nil {
		return Page{}, fmt.Errorf("store: read the page: %w", err)
	}
	if err := json.Unmarshal([]byte(links), &p.Links); err != nil {
		return Page{}, fmt.Errorf("store: read the page's links: %w", err)
	}
	if err := json.Unmarshal([]byte(sections), &p.Sections); err != nil {
		return Page{}, fmt.Errorf("store: read the page's sections: %w", err)
	}
	p.Links = nonNil(p.Links)
	p.Sections = nonNil(p.Sections)
	p.UpdatedAt = fromMS(updated)
	return p, nil
}

// SetPage validates p and stores it as the viewer page, updated now by by (an account name, at most
// MaxActorBytes), and returns what is stored.
func (db *DB) SetPage(ctx context.Context, p Page, by string) (Page, error) {
	if err := p.Validate(); err != nil {
		return Page{}, err
	}
	if err := checkActor("updated by", by); err != nil {
		return Page{}, err
	}
	p.Links = nonNil(p.Links)
	p.Sections = nonNil(p.Sections)
	p.UpdatedAt = db.nowMS()
	p.UpdatedBy = by
	links, err := json.Marshal(p.Links)
	if err != nil {
		return Page{}, fmt.Errorf("store: encode links: %w", err)
	}
	sections, err := json.Marshal(p.Sections)
	if err != nil {
		return Page{}, fmt.Errorf("store: encode sections: %w", err)
	}
	_, err = db.sql.ExecContext(ctx, db.upsert("page", []string{"id"},
		"title", "description", "announcement", "links", "sections", "updated_at", "updated_by"),
		1, p.Title, p.Description, p.Announcement, string(links), string(sections), toMS(p.UpdatedAt), p.UpdatedBy)
	if err != nil {
		return Page{}, fmt.Errorf("store: save the page: %w", err)
	}
	return p, nil
}

// checkActor accepts who did something: at most MaxActorBytes, one line, may be empty.
func checkActor(name, s string) error {
	return textRule{name: name, max: MaxActorBytes, bytes: true}.check(s)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// upsert returns an INSERT of keys and cols (in that order of arguments) that updates cols when a row
// with the same keys exists. Table and column names are constants of this package, never input.
func (db *DB) upsert(table string, keys []string, cols ...string) string {
	all := append(append([]string{}, keys...), cols...)
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(all, ", "),
		strings.TrimSuffix(strings.Repeat("?, ", len(all)), ", "))
	set := make([]string, len(cols))
	if db.kind == kindMySQL {
		for i, c := range cols {
			set[i] = fmt.Sprintf("%s = VALUES(%s)", c, c)
		}
		fmt.Fprintf(&b, " ON DUPLICATE KEY UPDATE %s", strings.Join(set, ", "))
	} else {
		for i, c := range cols {
			set[i] = fmt.Sprintf("%s = excluded.%s", c, c)
		}
		fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET %s", strings.Join(keys, ", "), strings.Join(set, ", "))
	}
	return b.String()
}
