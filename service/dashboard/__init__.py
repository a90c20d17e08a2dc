"""The organiser's live board page (`/dashboard/{conference}`): static ES modules in
`web/`, served from memory as the web kiosk's are, no build step."""
