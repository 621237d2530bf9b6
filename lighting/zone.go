package lighting

// Zone is one thing a viewer can control, as the contract shows it to viewers.
type Zone struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Kind      Kind     `json:"kind"`
	Online    bool     `json:"online"`
	Effects   []string `json:"effects"`
	State     State    `json:"state"`
	Version   int64    `json:"version"`
	Confirmed bool     `json:"confirmed"` // the bridge reported this version applied
}

// ZoneSpec is a zone as a bridge announces it.
type ZoneSpec struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Kind    Kind     `json:"kind"`
	Effects []string `json:"effects"`
}

// Update is one changed zone in a `lights` broadcast.
type Update struct {
	ID        string `json:"id"`
	State     State  `json:"state"`
	Version   int64  `json:"version"`
	Confirmed bool   `json:"confirmed"` // the bridge reported this version applied
}
