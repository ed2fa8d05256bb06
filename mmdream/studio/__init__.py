"""mmdream studio: a local web page (Gradio) for dreaming pictures, sounds and films, built on mmdream's public
API. `requests` holds what each button does (also the HTTP API), `views` what the page draws besides the media,
`page` the layout, `server` the start-up. Start it with `mmdream serve`."""
