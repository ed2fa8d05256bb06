"""The studio's web page (Gradio Blocks): one tab per kind of work, each button wired to a function of
mmdream.studio.requests. The dream buttons share one queue slot, so one dream runs at a time and a second visitor
sees their place in line; their functions are the HTTP API (`api_name`)."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

from mmdream.checks import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from mmdream.nets.registry import DEFAULT_NET, DEFAULT_STYLE_NET
from mmdream.options import BY_NAME, DREAM_DEFAULTS
from mmdream.schedule import EXAMPLE
from mmdream.studio import requests
from mmdream.studio.requests import PageError, Studio

ONE_AT_A_TIME = {"concurrency_limit": 1, "concurrency_id": "dream"}


# The CLI's defaults, so the page and its API (every input after the first optional) dream as the CLI does.
PICTURE, SOUND = DREAM_DEFAULTS["image"], DREAM_DEFAULTS["audio"]
PHOTO_SIZE, STRENGTH, SEED = BY_NAME["max_size"].default_for("image"), BY_NAME["strength"].default, BY_NAME["seed"].default
DEPTH = 0.5  # the depth slider's start: the middle of the net

def PhotoInput(**options) -> gr.Image:  # noqa: N802 - used like the component it is
    """gr.Image that hands the uploaded file to mmdream untouched: mmdream's reader judges it (text named .jpg,
    a 20 000 px picture) and says what is wrong in its own one line, where Gradio's would fail in PIL first.
    (An instance's preprocess, not a subclass: Gradio writes a .pyi stub beside any module that subclasses.)"""
    image = gr.Image(type="filepath", **options)
    image.preprocess = lambda payload: None if payload is None else payload.path
    return image


def page_errors(fn):
    """A request's one-line error shown in the page (and returned to API clients) as gr.Error."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except PageError as e:
                raise gr.Error(str(e), print_exception=False) from None
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PageError as e:
            raise gr.Error(str(e), print_exception=False) from None
    return call


def _first_ready(choices: list[tuple[str, str]], prefer: str | None = None) -> str | None:
    names = [name for _, name in choices]
    if prefer in names and not any(label.endswith("(needs weights)") for label, n in choices if n == prefer):
        return prefer
    return names[0] if names else None


def _net_controls(kind: str, prefer: str | None = None) -> tuple:
    """Net chooser, layer names, depth switch and slider, and target, kept in step with the chosen net."""
    choices = requests.net_choices(kind)
    first = _first_ready(choices, prefer)
    info = requests.net_info(first)
    # Typed values are allowed (a trained model's path, `mixed3:1.5`, a class alias): mmdream judges them.
    net = gr.Dropdown(choices, value=first, label="net", allow_custom_value=True,
                      info="ready nets first; the others need their weights (`mmdream models`)")
    layers = gr.Dropdown(info.layers, value=[], multiselect=True, label="layers", allow_custom_value=True,
                         info="empty: the net's own choice, or the depth below")
    by_depth = gr.Checkbox(False, label="dream at a depth instead")
    depth = gr.Slider(0.0, 1.0, DEPTH, step=0.05, label="depth (0 shallow … 1 deep)")
    target = gr.Dropdown(info.classes, value=None, filterable=True, allow_custom_value=True,
                         label="target class" if kind == "image" else "target tag",
                         info="type to search; empty: amplify whatever the layers see")

    def follow(name: str):
        chosen = requests.net_info(name)
        if chosen is None:  # a typed name mmdream does not list (a path): its layers are the user's to type
            return gr.Dropdown(choices=[], value=[]), gr.Dropdown(choices=[], value=None)
        return gr.Dropdown(choices=chosen.layers, value=[]), gr.Dropdown(choices=chosen.classes, value=None)

    net.change(follow, net, [layers, target], queue=False, api_visibility="private")
    return net, layers, by_depth, depth, target


def _pick_from_shared(studio: Studio, suffixes: set[str] | frozenset[str], into: gr.components.Component,
                      label: str) -> None:
    files = studio.shared_files(suffixes)
    pick = gr.Dropdown(files, value=None, label=label, visible=bool(files))
    pick.change(lambda path: path, pick, into, queue=False, api_visibility="private")


def picture_tab(studio: Studio) -> None:
    with gr.Row():
        with gr.Column():
            photo = PhotoInput(label="photo", sources=["upload", "clipboard"], elem_id="photo")
            _pick_from_shared(studio, IMAGE_SUFFIXES, photo, "or pick a photo from the shared folder")
            guide = PhotoInput(label="guide image (optional)", sources=["upload", "clipboard"])
        with gr.Column():
            net, layers, by_depth, depth, target = _net_controls("image")
            with gr.Row():
                octaves = gr.Slider(1, 8, PICTURE["octaves"], step=1, label="octaves")
                steps = gr.Slider(1, 100, PICTURE["steps"], step=1, label="steps per octave")
            with gr.Row():
                strength = gr.Slider(0.1, 4.0, STRENGTH, step=0.1, label="strength")
                seed = gr.Number(SEED, precision=0, label="seed")
            max_size = gr.Slider(64, 2048, PHOTO_SIZE, step=32, label="max size (px)")
            go = gr.Button("Dream", variant="primary", elem_id="dream-image")
        with gr.Column():
            dream = gr.Image(type="filepath", format="png", label="dream", elem_id="image-dream",
                             buttons=["download", "fullscreen"], interactive=False)
            summary = gr.Markdown(elem_id="image-summary")

    @page_errors
    def dream_image(photo, net=DEFAULT_NET["image"], layers=None, by_depth=False, depth=DEPTH,
                    octaves=PICTURE["octaves"], steps=PICTURE["steps"], strength=STRENGTH,
                    seed=SEED, target=None, guide=None,
                    max_size=PHOTO_SIZE, progress=gr.Progress()):
        """Dream a photo; returns the dream and the objective before and after."""
        return requests.dream_picture(studio, photo, net, layers, depth if by_depth else None, octaves, steps,
                                      strength, seed, target, guide, max_size, progress)

    go.click(dream_image, [photo, net, layers, by_depth, depth, octaves, steps, strength, seed, target, guide,
                           max_size], [dream, summary], api_name="dream_image", **ONE_AT_A_TIME)


def sound_tab(studio: Studio) -> None:
    with gr.Row():
        with gr.Column():
            sound = gr.Audio(sources=["upload", "microphone"], type="filepath", label="sound", elem_id="sound")
            _pick_from_shared(studio, AUDIO_SUFFIXES, sound, "or pick a sound from the shared folder")
        with gr.Column():
            net, layers, by_depth, depth, target = _net_controls("audio")
            with gr.Row():
                steps = gr.Slider(1, 100, SOUND["steps"], step=1, label="steps per octave")
                strength = gr.Slider(0.1, 4.0, STRENGTH, step=0.1, label="strength")
            duration = gr.Number(0, label="seconds to dream (0: all)", minimum=0)
            go = gr.Button("Dream", variant="primary", elem_id="dream-audio")
        with gr.Column():
            dream = gr.Audio(type="filepath", label="dream", elem_id="sound-dream", interactive=False)
            before = gr.Image(label="input spectrogram", interactive=False, elem_id="spectrogram-before")
            after = gr.Image(label="dream spectrogram", interactive=False, elem_id="spectrogram-after")
            summary = gr.Markdown(elem_id="sound-summary")

    @page_errors
    def dream_audio(sound, net=DEFAULT_NET["audio"], layers=None, by_depth=False, depth=DEPTH, target=None,
                    steps=SOUND["steps"], strength=STRENGTH, duration=0, progress=gr.Progress()):
        """Dream a sound; returns the dream, both spectrograms, and the objective, loudness and true peak."""
        return requests.dream_sound(studio, sound, net, layers, depth if by_depth else None, target, steps,
                                    strength, duration, progress)

    go.click(dream_audio, [sound, net, layers, by_depth, depth, target, steps, strength, duration],
             [dream, before, after, summary], api_name="dream_audio", **ONE_AT_A_TIME)


def film_tab(studio: Studio, schedule: gr.Code) -> None:
    with gr.Row():
        with gr.Column():
            clip = gr.Video(sources=["upload"], label="clip", elem_id="clip")
            server_path = gr.Textbox(label=f"or a path in the shared folder {studio.shared}",
                                     visible=studio.shared is not None)
            _pick_from_shared(studio, VIDEO_SUFFIXES, server_path, "or pick a clip from the shared folder")
            style = PhotoInput(label="style picture for a style pass (optional)",
                               sources=["upload"])
        with gr.Column():
            net = gr.Dropdown(requests.net_choices("image"), value=_first_ready(requests.net_choices("image")),
                              label="picture net", allow_custom_value=True)
            audio_net = gr.Dropdown(requests.net_choices("audio"), value=_first_ready(requests.net_choices("audio")),
                                    label="sound net", allow_custom_value=True)
            max_size = gr.Slider(64, 1920, 320, step=16, label="max size (px)", elem_id="film-size")
            with gr.Row():
                start = gr.Number(0, label="start (s)", minimum=0)
                end = gr.Number(0, label="end (s, 0: to the end)", minimum=0, elem_id="film-end")
            with gr.Row():
                steps = gr.Slider(1, 50, 10, step=1, label="steps per octave (first frame)")
                react = gr.Slider(0.0, 1.0, 0.0, step=0.05, label="react to the sound")
            use_schedule = gr.Checkbox(False, label="use the Schedule tab's schedule")
            with gr.Row():
                go = gr.Button("Render", variant="primary", elem_id="render")
                stop = gr.Button("Cancel", variant="stop", elem_id="cancel")
        with gr.Column():
            status = gr.Markdown(elem_id="film-status")
            frames = gr.Image(label="latest dreamed frames", interactive=False, elem_id="film-frames")
            film = gr.Video(label="dream film", interactive=False, elem_id="film-dream")

    @page_errors
    def dream_video(clip, server_path, net, audio_net, max_size, start, end, schedule_text, use_schedule, react,
                    style, steps, progress=gr.Progress()):
        """Render a film (resumable); streams the status and the latest frames, then the film with its sound."""
        yield from requests.dream_film(studio, clip, server_path, net, audio_net, max_size, start, end,
                                       schedule_text if use_schedule else None, react, style, steps, progress)

    go.click(dream_video, [clip, server_path, net, audio_net, max_size, start, end, schedule, use_schedule, react,
                           style, steps], [status, frames, film], api_name="dream_video", **ONE_AT_A_TIME)
    stop.click(lambda: requests.cancel_film(studio), None, status, queue=False, api_name="cancel_video")


def schedule_tab() -> gr.Code:
    text = EXAMPLE.read_text()
    editor = gr.Code(text, language=None, lines=24, label="schedule (TOML)", elem_id="schedule", interactive=True)
    verdict = gr.Markdown(requests.check_schedule(text), elem_id="schedule-verdict")
    editor.change(requests.check_schedule, editor, verdict, queue=False, api_name="check_schedule")
    return editor


def style_tab(studio: Studio) -> None:
    gr.Markdown("### Picture")
    with gr.Row():
        content = PhotoInput(label="content picture", sources=["upload", "clipboard"])
        style = PhotoInput(label="style picture", sources=["upload", "clipboard"])
        with gr.Column():
            choices = requests.net_choices("image")
            net = gr.Dropdown(choices, value=_first_ready(choices, DEFAULT_STYLE_NET), label="net", allow_custom_value=True)
            steps = gr.Slider(10, 500, 150, step=10, label="steps")
            max_size = gr.Slider(64, 1024, 384, step=32, label="max size (px)")
            go = gr.Button("Style", variant="primary")
        with gr.Column():
            result = gr.Image(type="filepath", format="png", label="styled", interactive=False)
            summary = gr.Markdown()
    @page_errors
    def style_image(content, style, net, steps, max_size, progress=gr.Progress()):
        """Style transfer of a picture; returns it and the style loss before and after."""
        return requests.style_picture(studio, content, style, net, steps, max_size, progress)

    go.click(style_image, [content, style, net, steps, max_size], [result, summary], api_name="style_image",
             **ONE_AT_A_TIME)
    gr.Markdown("### Sound")
    with gr.Row():
        content_sound = gr.Audio(sources=["upload", "microphone"], type="filepath", label="content sound")
        style_sound = gr.Audio(sources=["upload"], type="filepath", label="style sound")
        with gr.Column():
            sound_steps = gr.Slider(10, 300, 100, step=10, label="steps")
            duration = gr.Number(0, label="seconds (0: all)", minimum=0)
            go_sound = gr.Button("Style", variant="primary")
        with gr.Column():
            styled = gr.Audio(type="filepath", label="styled", interactive=False)
            sound_summary = gr.Markdown()
    @page_errors
    def style_audio(content, style, steps, duration, progress=gr.Progress()):
        """Style transfer of a sound; returns it and the style loss before and after."""
        return requests.style_sound(studio, content, style, steps, duration, progress)

    go_sound.click(style_audio, [content_sound, style_sound, sound_steps, duration], [styled, sound_summary],
                   api_name="style_audio", **ONE_AT_A_TIME)


def build_page(studio: Studio) -> gr.Blocks:
    with gr.Blocks(title="mmdream studio") as page:
        gr.Markdown("# mmdream studio\nDream pictures, sounds and films. One dream runs at a time; others wait in "
                    "line and see their place.")
        with gr.Tab("Picture", id="picture"):
            picture_tab(studio)
        with gr.Tab("Sound", id="sound"):
            sound_tab(studio)
        with gr.Tab("Schedule", id="schedule"):
            schedule = schedule_tab()
        with gr.Tab("Film", id="film"):
            film_tab(studio, schedule)
        with gr.Tab("Style", id="style"):
            style_tab(studio)
    return page
