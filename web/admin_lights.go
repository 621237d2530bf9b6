package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/web/store"
)

type pausedMsg struct {
	Lights bool  `json:"lights"`
	Print  *bool `json:"print"` // nil: community printing is not configured
}

func (s *Server) pausedNow() pausedMsg {
	p := pausedMsg{Lights: s.lights.Paused()}
	if s.cfg.Moderation != nil {
		v := s.cfg.Moderation.Paused()
		p.Print = &v
	}
	return p
}

type pauseRequest struct {
	Lights *bool `json:"lights"`
	Print  *bool `json:"print"`
}

type pauseAnswer struct {
	OK     bool      `json:"ok"`
	Paused pausedMsg `json:"paused"`
}

// adminPause pauses or resumes viewers' light commands and the community's print messages.
func (s *Server) adminPause(w http.ResponseWriter, r *http.Request, who store.Account) {
	var req pauseRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	if req.Print != nil && s.cfg.Moderation == nil {
		adminFail(w, http.StatusServiceUnavailable, codeUnavailable, "community printing is not set up on this hub")
		return
	}
	if req.Lights != nil {
		s.lights.SetPaused(*req.Lights)
		s.audit(r.Context(), who.Name, pauseAction(*req.Lights), "lights", "")
	}
	if req.Print != nil {
		s.cfg.Moderation.SetPaused(*req.Print)
		s.audit(r.Context(), who.Name, pauseAction(*req.Print), "print", "")
	}
	s.feed.kick()
	writeJSON(w, http.StatusOK, pauseAnswer{OK: true, Paused: s.pausedNow()})
}

func pauseAction(p bool) string {
	if p {
		return "pause"
	}
	return "resume"
}

type zoneAnswer struct {
	OK   bool                `json:"ok"`
	Zone lighting.ZoneDetail `json:"zone"`
}

// adminZoneSettings stores how a zone is shown to viewers and applies it at once.
func (s *Server) adminZoneSettings(w http.ResponseWriter, r *http.Request, who store.Account) {
	id := r.PathValue("id")
	var set lighting.ZoneSettings
	if !readJSON(w, r, maxAdminBody, &set) {
		return
	}
	zone, ok := s.adminZone(id)
	if !ok {
		adminFail(w, http.StatusNotFound, codeNotFound, "no bridge has announced zone "+strconv.Quote(id))
		return
	}
	if err := lighting.CheckZoneSettings(map[string]lighting.ZoneSettings{id: set}); err != nil {
		writeError(w, err)
		return
	}
	if err := s.cfg.Content.SetZoneSettings(r.Context(), id, set); err != nil {
		s.storeFail(w, r, "saving zone settings", err)
		return
	}
	if err := s.loadZoneSettings(r.Context()); err != nil {
		s.adminInternal(w, r, "reloading zone settings", err)
		return
	}
	s.audit(r.Context(), who.Name, "zone.settings", id, describeSettings(set))
	zone, _ = s.adminZone(id)
	s.feed.kick()
	writeJSON(w, http.StatusOK, zoneAnswer{OK: true, Zone: zone})
}

func describeSettings(z lighting.ZoneSettings) string {
	d := "order " + strconv.Itoa(z.Order)
	if z.Name != "" {
		d += ", named " + strconv.Quote(z.Name)
	}
	if z.Hidden {
		d += ", hidden"
	}
	if z.Disabled {
		d += ", disabled"
	}
	if z.Effects != nil {
		d += ", " + strconv.Itoa(len(z.Effects)) + " effects allowed"
	}
	return d
}

func (s *Server) adminZone(id string) (lighting.ZoneDetail, bool) {
	for _, z := range s.lights.AdminZones() {
		if z.ID == id {
			return z, true
		}
	}
	return lighting.ZoneDetail{}, false
}

// adminZoneState sets a zone as the streamer: pause, limits and the zone's settings do not apply.
func (s *Server) adminZoneState(w http.ResponseWriter, r *http.Request, who store.Account) {
	c, ok := zoneChange(w, r)
	if !ok {
		return
	}
	es, err := s.lights.Apply(r.Context(), who.Name, []lighting.Command{c})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ackMsg{OK: true, Version: es[0].Version})
}

type presetsMsg struct {
	OK      bool           `json:"ok"`
	Presets []store.Preset `json:"presets"`
}

func (s *Server) adminPresets(w http.ResponseWriter, r *http.Request, _ store.Account) {
	ps, err := s.cfg.Content.Presets(r.Context())
	if err != nil {
		s.storeFail(w, r, "listing presets", err)
		return
	}
	writeJSON(w, http.StatusOK, presetsMsg{OK: true, Presets: ps})
}

type presetRequest struct {
	Name     string             `json:"name"`
	Zones    []string           `json:"zones"`    // save these zones' current state
	Commands []lighting.Command `json:"commands"` // or these states
}

type presetMsg struct {
	OK     bool         `json:"ok"`
	Preset store.Preset `json:"preset"`
}

// adminSavePreset saves a preset: the current state of the zones named, or the commands given.
func (s *Server) adminSavePreset(w http.ResponseWriter, r *http.Request, who store.Account) {
	var req presetRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	if (len(req.Zones) == 0) == (len(req.Commands) == 0) {
		adminFail(w, http.StatusBadRequest, lighting.CodeBadRequest, "give either zones (to save their current state) or commands")
		return
	}
	cmds := req.Commands
	if len(req.Zones) > 0 {
		zones := s.lights.AdminZones()
		for _, id := range req.Zones {
			i := slices.IndexFunc(zones, func(z lighting.ZoneDetail) bool { return z.ID == id })
			if i < 0 {
				adminFail(w, http.StatusNotFound, codeNotFound, "no bridge has announced zone "+strconv.Quote(id))
				return
			}
			cmds = append(cmds, commandFor(zones[i].Zone))
		}
	}
	p, err := s.cfg.Content.SavePreset(r.Context(), store.Preset{Name: req.Name, Commands: cmds, CreatedAt: time.Now(), CreatedBy: who.Name})
	if err != nil {
		s.storeFail(w, r, "saving a preset", err)
		return
	}
	s.audit(r.Context(), who.Name, "preset.save", p.Name, strconv.Itoa(len(cmds))+" zones")
	writeJSON(w, http.StatusCreated, presetMsg{OK: true, Preset: p})
}

// commandFor is the command that brings a zone back to its current state: every field its kind uses.
func commandFor(z lighting.Zone) lighting.Command {
	st := z.State
	c := lighting.Command{Zone: z.ID, On: &st.On}
	if z.Kind == lighting.KindRelay {
		return c
	}
	c.Color, c.Brightness = &st.Color, &st.Brightness
	if z.Kind == lighting.KindPixels {
		c.Effect, c.Speed, c.Intensity = &st.Effect, &st.Speed, &st.Intensity
	}
	return c
}

func (s *Server) adminDeletePreset(w http.ResponseWriter, r *http.Request, who store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err == nil {
		err = s.cfg.Content.DeletePreset(r.Context(), id)
	} else {
		err = store.ErrNotFound
	}
	if err != nil {
		s.storeFail(w, r, "deleting a preset", err)
		return
	}
	s.audit(r.Context(), who.Name, "preset.delete", r.PathValue("id"), "")
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

// adminApplyPreset sets every zone of a preset at once, as the streamer.
func (s *Server) adminApplyPreset(w http.ResponseWriter, r *http.Request, who store.Account) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var p store.Preset
	if err == nil {
		p, err = s.cfg.Content.Preset(r.Context(), id)
	} else {
		err = store.ErrNotFound
	}
	if err != nil {
		s.storeFail(w, r, "reading a preset", err)
		return
	}
	if _, err := s.lights.Apply(r.Context(), who.Name, p.Commands); err != nil {
		writeError(w, err)
		return
	}
	s.audit(r.Context(), who.Name, "preset.apply", p.Name, "")
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

type blocksMsg struct {
	OK     bool          `json:"ok"`
	Blocks []store.Block `json:"blocks"`
}

func (s *Server) adminBlocks(w http.ResponseWriter, r *http.Request, _ store.Account) {
	bs, err := s.cfg.Content.Blocks(r.Context())
	if err != nil {
		s.storeFail(w, r, "listing blocks", err)
		return
	}
	writeJSON(w, http.StatusOK, blocksMsg{OK: true, Blocks: bs})
}

type blockRequest struct {
	Kind   string `json:"kind"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// adminAddBlock blocks a viewer by display name or address; their commands are refused from now on.
func (s *Server) adminAddBlock(w http.ResponseWriter, r *http.Request, who store.Account) {
	var req blockRequest
	if !readJSON(w, r, maxAdminBody, &req) {
		return
	}
	b := store.Block{Kind: req.Kind, Value: req.Value, Reason: req.Reason, By: who.Name, At: time.Now()}
	if err := s.cfg.Content.AddBlock(r.Context(), b); err != nil {
		s.storeFail(w, r, "blocking a viewer", err)
		return
	}
	if err := s.loadBlocks(r.Context()); err != nil {
		s.adminInternal(w, r, "reloading blocks", err)
		return
	}
	s.audit(r.Context(), who.Name, "block", req.Kind+" "+req.Value, req.Reason)
	s.feed.kick()
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}

func (s *Server) adminRemoveBlock(w http.ResponseWriter, r *http.Request, who store.Account) {
	kind, value := r.URL.Query().Get("kind"), r.URL.Query().Get("value")
	if err := s.cfg.Content.RemoveBlock(r.Context(), kind, value); err != nil {
		s.storeFail(w, r, "unblocking a viewer", err)
		return
	}
	if err := s.loadBlocks(r.Context()); err != nil {
		s.adminInternal(w, r, "reloading blocks", err)
		return
	}
	s.audit(r.Context(), who.Name, "unblock", kind+" "+value, "")
	s.feed.kick()
	writeJSON(w, http.StatusOK, okMsg{OK: true})
}
