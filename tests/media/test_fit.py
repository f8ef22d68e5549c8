"""Fitting images into Instagram's aspect ratios instead of refusing them: centre crop, or padding with a colour."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.media.errors import MediaInvalid
from app.media.images import Fit, ImageUse, prepare_image


def _jpeg(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _open(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    assert image.format == "JPEG"
    return image


def _close(pixel: object, expected: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= 12 for a, b in zip(pixel, expected, strict=True))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1080, 1920), (1080, 1350)),  # too tall: the middle 4:5 band
        ((1400, 400), (764, 400)),  # too wide: the middle 1.91:1 band
    ],
)
def test_crop_takes_the_centre_at_the_nearest_allowed_ratio(size: tuple[int, int], expected: tuple[int, int]) -> None:
    prepared = prepare_image(_jpeg(*size), ImageUse.FEED, fit=Fit.CROP)
    assert (prepared.width, prepared.height) == expected
    assert _open(prepared.content).size == expected


def test_crop_keeps_the_middle_of_the_picture() -> None:
    picture = Image.new("RGB", (1080, 1920), (255, 255, 255))
    picture.paste((0, 0, 255), (0, 0, 1080, 285))  # a blue band cut away at the top
    picture.paste((0, 200, 0), (0, 285, 1080, 1635))  # the green middle that stays
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    image = _open(prepare_image(buffer.getvalue(), ImageUse.CAROUSEL, fit=Fit.CROP).content)
    assert image.size == (1080, 1350)
    assert _close(image.getpixel((540, 5)), (0, 200, 0))
    assert _close(image.getpixel((540, 1344)), (0, 200, 0))


def test_pad_keeps_the_whole_picture_on_the_colour() -> None:
    prepared = prepare_image(_jpeg(1400, 400), ImageUse.FEED, fit=Fit.PAD, pad_color="#000000")
    image = _open(prepared.content)
    assert image.size == (1400, 733)  # 1400 / 1.91
    assert _close(image.getpixel((700, 5)), (0, 0, 0))  # padding above
    assert _close(image.getpixel((700, 366)), (200, 30, 30))  # the picture in the middle


def test_pad_of_a_tall_image_pads_the_sides() -> None:
    image = _open(prepare_image(_jpeg(800, 1600), ImageUse.FEED, fit=Fit.PAD, pad_color="#00FF00").content)
    assert image.size == (1280, 1600)  # 1600 * 4:5
    assert _close(image.getpixel((5, 800)), (0, 255, 0))


def test_an_image_within_the_ratios_is_left_alone_whatever_the_fit() -> None:
    original = _jpeg(1080, 1080)
    for fit in Fit:
        assert prepare_image(original, ImageUse.FEED, fit=fit).content == original


@pytest.mark.parametrize(("fit", "expected"), [(Fit.CROP, (608, 1080)), (Fit.PAD, (1080, 1920))])
def test_story_images_are_framed_at_9_16(fit: Fit, expected: tuple[int, int]) -> None:
    prepared = prepare_image(_jpeg(1080, 1080), ImageUse.STORY, fit=fit)
    assert (prepared.width, prepared.height) == expected


def test_a_story_is_published_as_it_is_by_default() -> None:
    prepared = prepare_image(_jpeg(1080, 1080), ImageUse.STORY)
    assert (prepared.width, prepared.height) == (1080, 1080)


def test_a_crop_that_would_fall_under_320_pixels_says_to_pad() -> None:
    with pytest.raises(MediaInvalid, match='"fit": "pad"'):
        prepare_image(_jpeg(1080, 400), ImageUse.STORY, fit=Fit.CROP)


def test_refuse_names_the_fit_option() -> None:
    with pytest.raises(MediaInvalid, match='"fit": "crop" or "pad"'):
        prepare_image(_jpeg(1080, 1920), ImageUse.FEED)
