from django.urls import path

from django_project import views

urlpatterns = [
    path("orders", views.orders),
    path("orders/new", views.create_order),
    path("health", views.health),
]
