"""The customer pages: the landing page, enrolment and its success page, the card page and
the lost-link form, server-rendered in English, French, German and Luxembourgish."""
