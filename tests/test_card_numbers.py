import pytest

from loyalty import card_numbers


def test_generated_numbers_are_valid_and_start_with_a_non_zero_digit():
    for _ in range(200):
        number = card_numbers.generate()
        assert len(number) == 12 and number[0] != "0"
        assert card_numbers.normalize(number) == number


def test_it_rejects_every_single_mistyped_digit():
    number = card_numbers.generate()
    for position in range(len(number)):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            typo = number[:position] + digit + number[position + 1 :]
            assert card_numbers.normalize(typo) is None, typo


def test_it_accepts_the_printed_grouping():
    number = card_numbers.generate()
    assert card_numbers.normalize(card_numbers.display(number)) == number
    assert card_numbers.normalize(number[:4] + "-" + number[4:]) == number


@pytest.mark.parametrize("raw", ["", "abc", "1234", "１２３４５６７８９０１２", None, "1" * 13])
def test_it_rejects_what_cannot_be_a_card_number(raw):
    assert card_numbers.normalize(raw) is None
