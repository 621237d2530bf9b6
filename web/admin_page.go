package web

import (
	"context"
	"net/http"
	"time"

	"github.com/stagelink/stagelink/web/store"
)

// contentSyncEvery is how often a hub reads the content other hubs may have changed: page, zone settings,
// blocks. A change made through this hub applies at once.
const contentSyncEvery = 10 * time.Second

type pageMsg struct {
	OK   bool       `json:"ok"`
	Page store.Page `json:"page"`
}

func (s *Server) adminPage(w http.ResponseWriter, r *http.Request, _ store.Account) {
	p, err := s.cfg.Content.Page(r.Context())
	if err != nil {
		s.storeFail(w, r, "reading the page", err)
		return
	}
	writeJSON(w, http.StatusOK, pageMsg{OK: true, Page: p})
}

// adminSetPage stores the viewer page's content; open viewer pages show it at once.
func (s *Server) adminSetPage(w http.ResponseWriter, r *http.Request, who store.Account) {
	var p store.Page
	if !readJSON(w, r, 64<<10, &p) {
		return
	}
	p, err := s.cfg.Content.SetPage(r.Context(), p, who.Name)
	if err != nil {
		s.storeFail(w, r, "saving the page", err)
		return
	}
	s.audit(r.Context(), who.Name, "page.edit", "", "title "+p.Title)
	s.showPage(p, true)
	writeJSON(w, http.StatusOK, pageMsg{OK: true, Page: p})
}

// showPage makes p the page viewers see, telling open pages and dashboards when it changed: those of
// every hub of a cluster for an edit made here (the others take it into their hello at their next read),
// this hub's for a change it read from the store.
func (s *Server) showPage(p store.Page, everywhere bool) {
	if old := s.page.Swap(&p); old != nil && old.UpdatedAt.Equal(p.UpdatedAt) && old.UpdatedBy == p.UpdatedBy {
		return
	}
	for _, nsp := range []string{"/", "/admin"} {
		if everywhere {
			s.emitEverywhere(nsp, "page", p)
		} else {
			s.io.Of(nsp, nil).Local().Emit("page", p)
		}
	}
}

// currentPage is the page content for a viewer's hello.
func (s *Server) currentPage() *store.Page { return s.page.Load() }

func (s *Server) loadZoneSettings(ctx context.Context) error {
	m, err := s.cfg.Content.ZoneSettings(ctx)
	if err != nil {
		return err
	}
	return s.lights.SetZoneSettings(m)
}

func (s *Server) loadBlocks(ctx context.Context) error {
	bs, err := s.cfg.Content.Blocks(ctx)
	if err != nil {
		return err
	}
	var names, ips []string
	for _, b := range bs {
		if b.Kind == "ip" {
			ips = append(ips, b.Value)
		} else {
			names = append(names, b.Value)
		}
	}
	if err := s.lights.SetBlocks(names, ips); err != nil {
		return err
	}
	s.blocks.Store(&bs)
	return nil
}

// syncContent loads the content at start and again every contentSyncEvery, so that changes made through
// other hubs reach this one's viewers. A failed read keeps what the hub has and is retried.
func (s *Server) syncContent(ctx context.Context) {
	t := time.NewTicker(contentSyncEvery)
	defer t.Stop()
	for {
		s.loadContent(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) loadContent(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := s.cfg.Content.Page(ctx)
	if err == nil {
		s.showPage(p, false)
		err = s.loadZoneSettings(ctx)
	}
	if err == nil {
		err = s.loadBlocks(ctx)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("reading content", "err", err)
	}
}
